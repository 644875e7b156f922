// Package docker implements engine.Engine for Docker Engine and for
// Podman's Docker-compatible API, on top of dockertest's Docker client,
// which stays hidden in this package.
//
// # Connecting
//
// Open takes the candidates of package discover in order. When DOCKER_HOST
// or a docker context names an engine, only that one is tried, as the
// docker CLI does; otherwise the first local socket that answers wins.
// Each candidate gets a bounded ping (5 s, 20 s over ssh). When none
// answers, the error lists every address, where it came from and why it
// failed (no such socket, permission denied, a TLS file that is missing or
// invalid, a certificate the engine rejects, ssh's own message...), and
// says what to do.
//
// Every connection goes through one dialer per engine: a unix socket, TCP
// with TLS, or ssh. The HTTP transport keeps connections alive, because a
// new one costs a TLS handshake or an ssh session.
//
// # ssh://
//
// ssh:// works like the docker CLI's connhelper: each connection is
// `ssh [-p port] [-l user] host -- docker system dial-stdio` in batch mode,
// so the remote docker CLI decides which engine it reaches. A ControlMaster
// in a private temporary directory carries all sessions over one
// authenticated connection, and a few sessions are started ahead of need;
// package sshconn is that transport, this package only picks it for
// ssh:// endpoints. Exec and other hijacked streams use such a connection too
// (the sessions are half-closable, which hijacked streams need).
//
// # Where ports are published
//
// Info.DialHost is where the test process dials published ports and
// Info.PublishIP the address the engine binds them to unless the compose
// file names one. For a local engine, or a tcp:// or ssh:// engine on a
// loopback address, both are 127.0.0.1: nothing is exposed to the network.
// For a remote engine, ports are published on every interface of the
// engine's host (PublishIP "") and dialled on that host (for ssh://, the
// HostName that ssh really connects to, after ~/.ssh/config). Ports bound
// to the remote host's loopback would be unreachable from here, and
// tunnelling each of them through ssh would need TCP forwarding, which
// hardened sshd configurations (and the docker CLI) do without, plus one
// more hop for every probe. The cost is that a remote engine's test
// containers are reachable from its network for the life of the stack:
// use a remote engine on a trusted network, as Docker's own remote-host
// setup assumes.
//
// # Podman
//
// The engine's /version answer tells Podman from Docker (Info.Name). Podman
// 4.3 differs in ways this package hides: its wait misses the exit of a
// container that its restart policy restarts at once (Wait follows its
// events instead), it reports a failed pull in a 200 answer (Pull reads
// the stream itself), it names some states differently (Inspect maps them
// to Docker's), and it forgets an exec whose container restarted (Exec
// reports that as an unknown exit code, never as 0). Its /info runs the
// package manager (seconds, more on a busy machine): on a local socket,
// the socket's peer (a podman process, its uid) says local and rootless
// instead.
package docker
