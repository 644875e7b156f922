// Package runtime brings the stacks that composegen's generated fixtures
// describe up and down on a container engine. Test authors meet it through
// the generated package (itest.Start(t), stack.Postgres.DSN()) and the
// options of this package; the generated code passes the static plan of
// the compose project (package composeplan) to Start, Shared or Up.
//
// # Three ways to get a stack
//
// Start(t) gives a test a stack of its own, torn down at t.Cleanup. Up and
// Down are the same for TestMain and code outside tests. Shared(t) gives
// every test of every package of a go test run one stack: the first test
// starts it, the others, in the same test binary or in others running at
// the same time or later, attach to it in milliseconds, and it goes when
// the go command ends. A shared stack stays fast only if tests do not see
// each other's data: the FreshDSN and FreshURL accessors of the data store
// kinds (package templates) give each test a database of its own inside
// it, a copy of the one the stack's migrations and seeds left.
//
//	func TestOrders(t *testing.T) {
//		t.Parallel()
//		stack := itest.Shared(t)
//		db, _ := pgxpool.New(ctx, stack.Postgres.FreshDSN(t))
//		rdb := redis.NewClient(mustParse(stack.Redis.FreshURL(t)))
//		...
//	}
//
// # Isolation and readiness
//
// Every stack instance gets a unique compose project name, its own
// networks and volumes, and ephemeral host ports on 127.0.0.1 for every
// declared container port (WithFixedPorts for the compose file's), so that
// stacks of the same file run side by side. Services start as soon as
// their depends_on conditions allow, independent ones at once.
//
// When Start returns, every service answers: its container runs, its
// compose healthcheck passes (with Docker's budget: start_period, then
// retries consecutive failures), and a service of a known kind answers its
// protocol through the published port (a real exchange that docker-proxy
// cannot fake), which gates the healthcheck's first exec. A one-shot
// service (a migration, a seed) is ready when it has exited 0, whether or
// not something depends on it: Start, Up and Shared return only after
// every one-shot the stack runs has completed, so the first query sees what
// they wrote. Any other exit fails the start with the service's name, exit
// code and last log lines.
//
// Which services are one-shots the generator decides from what they are
// (x-composegen: {oneshot: true|false}, what their command runs, their
// image; see composeplan.ServiceSpec.Lifecycle). A service it could not
// classify is waited for as a one-shot until the rest of the stack is ready
// and it has run for composeplan.UnclassifiedGrace: if it exited 0 by then
// it completed, else it is taken as long-running and the start's log says,
// in one line, how to classify it. So an unrecognised migration still runs
// before the test (unless it takes longer than the grace), and an
// unrecognised worker never hangs a start.
//
// A failed start reads top-down: the failing service with its cause and
// its last output lines (stdout and stderr in the order the engine
// recorded them), then every other service in one line (state, ready or
// not, ports). The probe and healthcheck outputs of a service that became
// ready are its start-up history and are left out (see Stack.Diagnostics,
// the dump of a failed test).
//
// # Stale fixtures
//
// The generated plan records a hash of each compose file it was generated
// from. A start whose compose files changed on disk since go generate
// fails at once, naming the file and saying to run go generate ./...
// (ErrDrift; COMPOSEGEN_DRIFT=warn makes it a warning). The files are read
// at start, so go test's cache runs a test again when one changes.
//
// # Nothing left behind
//
// Every resource carries compose's labels and an owner identity (host,
// boot, PID namespace, pid, start time). Start's cleanup and Down remove a
// stack's containers, networks and volumes in parallel, bounded in time;
// SIGINT and SIGTERM tear the process's stacks down. A small watcher
// process (the test binary re-executed, detached from go test's output)
// removes a process's stacks when it ends however it ends, SIGKILL and
// -timeout included, and the reaper of every start removes what owners
// that provably died left. Kept stacks (WithKeepOnFailure, reuse) are
// spared until Prune (`composegen prune`) removes them and says what it
// removed.
//
// # Shared stacks
//
// A shared stack is found by a key: a hash of everything it is started
// from (the plan with its variables resolved, env files, bind-mounted
// files, images, and the options that change what runs), so that a changed
// compose file, value or profile gets a new stack, never a stale one.
// Processes take turns through a file lock: exactly one starts it, the
// others wait for it and attach; when the start fails, every test of the
// run fails with the same diagnostics. A container of a shared stack that
// stopped is reported to each test that asks for the stack, never used.
// The stack belongs to a watcher of the go command (the test binary's
// parent), or of the test binary when it runs on its own; no test tears it
// down (Down returns an error wrapping ErrShared). With WithReuse
// (COMPOSEGEN_REUSE=1) it is kept after the run and the next run with the
// same key attaches to it; a run whose key changed removes it. A stack
// kept for the next run, or a kept one replaced, is reported in one line on
// the go command's standard error, which `go test ./...` shows even when
// every package passes.
//
// Stack.Lock and Stack.Lease coordinate the processes that use a stack
// instance (one holder at a time, one of n slots), released by the kernel
// when a holder dies: the kinds' isolation accessors build on them.
//
// # Engines
//
// Docker is found as the docker CLI finds it (DOCKER_HOST, DOCKER_CONTEXT,
// the current context, the default sockets), Podman through its sockets;
// other engines (Kubernetes) register themselves from their own modules
// (WithEngine). Without an engine, Start and Shared skip the test, or fail
// it under CI=true.
//
// # Secrets
//
// No secret value appears in any error, log line or diagnostic; each is
// replaced by "****". Masked by name: the values of variables whose names
// say they are secrets (PASSWORD, SECRET, TOKEN, KEY...), wherever they
// appear. Masked by shape, in any text whatever the variable's name: URL
// passwords (postgres://app:****@db), Authorization and secret-named
// header values (curl -H "Authorization: Bearer ****"), password=, pwd=,
// token=, api_key=... in connection strings, queries and shell assignments
// (host=db password=****, PGPASSWORD=**** psql), secret-named JSON keys,
// --password values, and the -p of the MySQL clients, -a of redis-cli and
// -u user:**** of curl. A secret seen once by its shape is then masked
// wherever it appears.
package runtime
