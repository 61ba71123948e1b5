// Package clusterctl holds the multi-process cluster tests: real callboxd
// processes on loopback forming a cluster over mutual TLS with
// `callboxctl cluster init/token/join`, then kill -9, SIGSTOP/SIGCONT and
// restarts. The daemon-side wiring itself lives in daemon/cluster_*.go and
// the primitives in package cluster.
package clusterctl
