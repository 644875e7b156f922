// Package kube is composegen's Kubernetes engine: the same generated
// fixtures run their stacks on a cluster, for teams whose CI has no Docker
// daemon. Importing the package registers the engine "kubernetes"
// (`composegen -engine kubernetes` adds the import to the generated file);
// COMPOSEGEN_ENGINE=kubernetes or runtime.WithEngine("kubernetes") selects
// it. The cluster is found as kubectl finds it: KUBECONFIG (or
// ~/.kube/config) and its current context, else the in-cluster
// configuration of a pod.
//
// # What a stack is on Kubernetes
//
// A stack instance is a namespace, labelled with the stack's owner labels
// (the reaper and `composegen prune` find it by them); removing it deletes
// the namespace and waits until it is gone.
//
// A container is a pod of one container. Create makes the pod with a
// scheduling gate, so that the scheduler leaves it alone; Start lifts the
// gate and returns once the container runs (an image that cannot be
// pulled, a command that does not exist, is Start's error with the
// kubelet's reason). Kubernetes stops a container only by deleting its
// pod: Stop and Kill delete the pod (the kubelet sends the stop signal,
// then SIGKILL when the grace period ends) and leave a gated pod that
// records the exit until Start recreates the pod. A recreated pod starts
// from the image's filesystem with fresh emptyDir volumes; the output of
// earlier runs is kept by the engine (its last MiB per run) for Logs.
// Replicas are separate pods.
//
// The mapping of a container's settings: entrypoint and command to
// command and args; environment, working_dir; user as runAsUser and
// runAsGroup (numbers, or root); restart no, always (and unless-stopped),
// on-failure to restartPolicy Never, Always and OnFailure (without
// on-failure's retry limit); pull_policy to imagePullPolicy (IfNotPresent
// unless always or never, whatever the tag); stop_grace_period to
// terminationGracePeriodSeconds (10s by default, as on Docker); a
// stop_signal other than SIGTERM to a preStop hook that sends it (the
// image needs a shell); init to a shared process namespace (the pause
// container is PID 1); hostname, extra_hosts, dns, dns_search, dns_opt,
// sysctls, group_add (numbers), cap_add, cap_drop, privileged, read_only,
// no-new-privileges, seccomp:unconfined, apparmor:unconfined, mem_limit,
// mem_reservation, cpus, cpu_shares, shm_size, tmpfs and platform (a node
// selector). Service links and service account tokens are off.
//
// A namespace is one flat network: networks are only recorded. Every
// service name, container_name and network alias gets a Service, so that
// other pods reach the container by that name: a headless Service for a
// valid DNS name (it resolves to the pods themselves, every port
// reachable, as on a compose network), a ClusterIP Service for the
// declared ports under a sanitised name otherwise, which pods resolve
// through a hostAliases entry (Web, 2fa) or, for a name that cannot even
// be a host name (redis_cache), through a hosts file of the engine's own
// mounted at /etc/hosts. Names are resolved when a pod is started: a
// service reaches the names of the containers created before it, which
// depends_on ensures.
//
// Every declared TCP port is published on 127.0.0.1:<ephemeral> (or the
// compose file's host address and port) by a port-forward that the engine
// holds for the container's life: the local port stays the same across
// restarts and recreations, and a connection accepted while nothing
// listens in the pod is closed at once. A port-forward belongs to the
// process that holds it: each test binary that attaches to a shared stack
// (runtime.Shared, also a stack kept with COMPOSEGEN_REUSE=1 by an earlier
// run) opens its own when it attaches (Publish), held for the process's
// life, so that it reaches the stack whether the process that started it
// still runs or not. A fixed host port that another process already holds
// (the one that started the stack) is published on an ephemeral port
// instead; the accessors report it. Exec, copy (tar in the container,
// like kubectl cp) and logs go through the API; the API merges stdout and
// stderr, so Logs writes both to stdout.
//
// A named volume is an emptyDir of the one container that mounts it.
// Bind-mounted host files and directories of at most 1 MiB are
// ConfigMaps (Secrets under /run/secrets, where the runtime mounts
// secrets), mounted read-only: a snapshot taken at Create.
//
// # What is refused
//
// What cannot work on a cluster is refused at Create with an error that
// names the service and the field: a named volume that a second container
// mounts; build (Build fails: push the image to a registry the cluster
// pulls from); network_mode, pid, ipc, volumes_from (another container's
// namespaces); devices, ulimits, userns_mode, cgroup_parent,
// oom_kill_disable, oom_score_adj, pids_limit, memswap_limit; UDP ports
// (a port-forward carries TCP only); extra_hosts host-gateway; other
// security_opt values; a user or group given by name; a bind mount of a
// socket or device, of more than 1 MiB, or of an empty writable directory
// (for the container's output); external volumes; an empty entrypoint
// with the image's command. A privileged pod that the cluster's policy
// forbids fails with the API's reason.
//
// Pause and Unpause are not supported; a signal other than SIGKILL is
// sent by running kill in the container (the image needs a shell or
// kill); Pull leaves pulling to the kubelet; Image reports the images the
// nodes list. State.Pid is 0 (the engine is not local).
//
// # Conformance
//
// The engine passes the engine SPI's conformance suite
// (runtime/engine/enginetest, run by TestConformance on a real cluster)
// without the features Kubernetes does not have:
//
//   - Pause: Kubernetes cannot freeze a container.
//   - Build: a cluster cannot build images.
//   - Pull: the kubelet pulls a pod's image when it starts the pod, so
//     Pull does nothing and cannot fail for a missing image (Start fails).
//   - SharedNamespaces: a pod cannot join another pod's network, pid or
//     ipc namespace.
//   - SharedVolumes: a named volume is an emptyDir of the one pod that
//     mounts it.
//   - LogStreams: the pod log API merges stdout and stderr (Logs writes
//     both to stdout, in order).
//   - Pid: the API does not report a container's process id.
//
// Everything else is checked as on Docker: create, start, stop, kill and
// start again, stop signals and other signals, restart policies, tty
// output, exec, logs (tail, follow), copy, networks and aliases, published
// ports, List and Remove, Image and not-found errors.
package kube
