// Command nop does nothing: spawning it measures what starting any Go
// program costs on the benchmark machine, the noise floor under the others.
package main

func main() {}
