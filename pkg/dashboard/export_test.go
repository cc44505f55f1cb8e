package dashboard

import (
	"io/fs"
	"net/http"
)

// HandlerFor serves the assets of fsys the way Handler serves the embedded ones.
func HandlerFor(fsys fs.FS) http.Handler { return load(fsys) }
