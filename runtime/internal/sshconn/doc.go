// Package sshconn reaches a Docker-compatible engine over ssh:// the way
// the docker CLI's connhelper does: each connection is a `ssh [-p port]
// [-l user] host -- docker system dial-stdio` subprocess in batch mode,
// whose stdin and stdout carry the API connection as a half-closable
// net.Conn (hijacked streams such as exec need the half-close). A Dialer
// carries its sessions over ControlMasters in a private temporary
// directory (one per sessionsPerMaster sessions, COMPOSEGEN_SSH_SESSIONS
// for an sshd with a lower MaxSessions), keeps a few sessions logged in
// and pinged ahead of need, lets at most two sessions of the process log
// in at a time, and explains ssh's failures (authentication, host key, no
// docker on the remote PATH, refused sessions). COMPOSEGEN_SSH_TRACE=1
// logs every session's lifecycle to stderr. Package docker uses it for
// ssh:// endpoints; nothing here knows the Docker API beyond a ping.
package sshconn
