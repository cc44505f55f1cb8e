package client_test

import "os"

func pidSelf() int { return os.Getpid() }
