//go:build !h2rpc_scribble

package frame

// scribbleDefault is the initial scribble mode of a new Reader; the build tag
// h2rpc_scribble turns it on (see Reader.SetScribble).
const scribbleDefault = false
