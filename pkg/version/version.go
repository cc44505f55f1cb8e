// Package version holds the build's version string, set by the Makefile
// through -ldflags.
package version

// Version is the release of this build ("dev" when built without the Makefile).
var Version = "dev"
