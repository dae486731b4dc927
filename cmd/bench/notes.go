package main

// The prose of docs/BENCHMARKS.md that does not depend on the figures of a
// run. Longer explanations live in docs/BENCHMARKS-notes.md.

const healthMethod = `Measured by ` + "`bench.MeasureHealth`" + ` (test/bench/health.go). The built sidecar runs in factomd mode
with default flags (poll every 2 s, timeout 1.5 s) against a loopback fake factomd that answers like a
caught-up node, used as both the local node and one ` + "`--reference-url`" + ` (each poll is 5 JSON-RPC calls: the
local node's heights, current-minute and boot check, the reference's heights and current-minute).
The load generator runs in the benchmark's process: %d keep-alive workers with a minimal HTTP/1.1 client
(no transport goroutines, no allocation per request, its garbage collector off while it runs) paced by a
schedule; latency is from writing the request to reading the whole body. The baseline is the same
load against a static HTTP server, a process of its own like the sidecar, that returns a body of the
same size: the floor this machine gives any HTTP server at that moment. Sidecar and floor take turns
in one-second blocks. The goal's figures run the generator, the sidecar and the static server pinned to
one shared core (as ` + "`taskset -a -p`" + ` would): on this virtual machine a wake-up sent to the other virtual CPU
waits for the hypervisor and sets the tail of any server, the static one as much as the sidecar. The
same load with every process free to run on either core follows as its own rows.`

var healthReading = []string{
	`The handler reads the cached verdict through an atomic pointer and writes its small JSON body without
reflection (no I/O, no lock shared with the poller), so a probe never waits on factomd; what is left in
the tail is scheduling on a shared machine. Compare p99 with the static baseline of the same run before
drawing conclusions.`,
	`RSS is mostly the Go runtime plus client-go, which the one binary links for walletd mode (factomd
mode does not use it).`,
	`Idle CPU stays small because the poller makes a few small calls per node per interval and probes answer
from the cache. CPU is read from /proc/<pid>/stat in 10 ms ticks, so per-poll CPU is approximate.`,
}

const leaderMethod = `Measured by ` + "`bench.MeasureLeader`" + ` (test/bench/leader.go) on a real kube-apiserver + etcd (etcd with
` + "`--unsafe-no-fsync`" + `, as in the tests) with three full walletd pods played by local processes (walletd-init,
bin/test-walletd, the sidecar in walletd mode with keystore replication, its rights only from
` + "`manifests/base/rbac.yaml`" + `). A trial signals the leader's sidecar and times until another pod's ` + "`/leader`" + `
answers 200 — writable, i.e. after the keystore promotion — polling every 2 ms; the signalled sidecar
is started again before the next trial, as the kubelet restarts a container. The baseline is plain
client-go ` + "`leaderelection`" + ` (test/bench/baselineelector: ` + "`LeaseLock`" + `, ` + "`RunOrDie`" + `, ` + "`ReleaseOnCancel`" + `, no
watch) with 15 s / 10 s / 2 s, in the same run. API requests per pod are counted from the API server's
audit log by user agent (every request the pod sends: election, label, keystore, Events), and
separately from the sidecar's own ` + "`factom_sidecar_kube_requests_total`" + ` (the election's clients only).`

var leaderReading = []string{
	`**A crashed sidecar is replaced on evidence, not on the lease.** Followers probe the leader's advertised
addresses every 200 ms (a fresh TCP connect to its proxy port, ` + "`GET /leader`" + ` on its probe port); a killed
process's ports refuse at once, and after 3 refused rounds in a row the first follower in rank takes the
Lease by a conditional update and promotes, which bumps the keystore term. A timeout is no evidence, so a
paused (SIGSTOP) leader — and every failover with ` + "`--early-takeover=false`" + ` — waits for the lease as
before: followers learn of every renewal through a watch on the one Lease and judge expiry with their own
clock from the moment they saw the last renewal, then try at exactly that moment; failover = lease
duration minus the time since the leader's last renewal. client-go alone observes renewals only when it
polls (every 2–4.4 s with jitter), so it sees the last renewal late and notices the expiry late.`,
	`**Graceful handover does not wait for expiry.** On SIGTERM the leader closes writes, waits for writes
in flight and releases the Lease itself (one update, conditional on the version it last wrote); its own
label patch and Events wait until the Lease names the successor (at most 0.5 s), so they do not reach
the API server together with the handover's writes. The followers' watch sees the release at once; the
first in rank (lowest ordinal, in sync) writes the Lease and, side by side, the keystore's term bump
(both conditional updates, the bump from the Secret its watch delivered), and opens writes once both
succeeded; the others wait 100 ms per rank, so one write wins without a race. The path is one watch
delivery between two rounds of writes — the release, then the acquisition beside the term bump. A
lost acquisition undoes its promotion. client-go's baseline waits for its next retry.`,
	`**API load**: the leader renews once per retry period (0.5 req/s at 2 s); followers send nothing in
steady state — they hold one watch on the Lease, one on the leader's Pod and one on the keystore Secret; a long-running watch is
counted when it ends (every 4–6 min, re-established with a get). client-go's followers poll the Lease
every retry period.`,
	`**The writable gate is stricter than the Lease**: it closes on its own once no renewal has succeeded
for the renew deadline (measured from the moment the renewal was sent), which is earlier than any
follower can take over. A paused (SIGSTOP) leader therefore answers ` + "`/leader`" + ` 503 on its first request
after waking; the integration tests check this, and that an API server outage closes writes.`,
	`Fast profile: 4 s / 3 s / 0.5 s costs 2 leader requests/s and tolerates only 3 s of API server trouble
before the leader gives up writes. **Soak**: the steady-state window (default timings) doubles as a
count of leader changes while nothing is killed; the issue's soak (fast profile, 30 minutes) needs
` + "`-leader-window 30m`" + ` and is not part of a default run.`,
}

const proxyMethod = `Measured by ` + "`bench.MeasureProxy`" + ` (test/bench/proxy.go): a real walletd (bin/test-walletd) and the proxy
in front of it, in the benchmark's process, with a gate that says "leader" and a Committer that does
nothing; direct and proxied calls alternate one by one, so both see the same load. The rows marked
**real leader sidecar** go through the proxy of the walletd-mode sidecar that leads a 3-pod cluster on a
real API server (testenv.StartCluster), which commits every keystore write to the Secret before it
answers, and runs with the shipped defaults (lease 15 s / 10 s / 2 s, log level info); their write
baseline is a standalone walletd of the same build on the same disk, interleaved. Calls go over one
keep-alive connection per target with a minimal HTTP/1.1 client (no transport goroutines, no garbage).
The real sidecar's reads, whose overhead is the goal, run twice: with the benchmark, the leader's sidecar
and its walletd pinned to one shared core (as for /readyz: on this virtual machine a wake-up sent to
the other virtual CPU waits for the hypervisor, and the proxied path has two more of them than the direct
one), and with every process free to use any core.`

var proxyReading = []string{
	`Reads: the proxy costs about 0.2 ms at the median — one more loopback HTTP hop (two more wake-ups),
request validation and re-encoding, the in-sync check. On one core its p99 overhead has measured
0.36–0.69 ms across runs; with processes spread over both cores the tail of the proxied path (two more
hops between virtual CPUs) has measured 0.5–1.4 ms above direct: scheduling, not work in the proxy.`,
	`Writes: a write through the proxy costs walletd's own ` + "`generate-*`" + ` (two bolt commits with disk
syncs, ≈ 45–50 ms) plus the serialising lock and, on the real sidecar, one sealed conditional update
of the keystore Secret; that commit is the whole of the overhead. The p99 of a few hundred sequential
writes is set by disk-sync outliers of either series, so the p99 difference swings by tens of ms
between runs (earlier runs: −84 ms to +49 ms with a no-op commit).`,
	`The real leader sidecar's writes also pay for the machine this harness runs on: the three walletd
replicas share one disk and two cores, so while the leader commits, both followers replay the previous
write on their walletd (two disk syncs each). On a cluster each pod has its own disk and node.`,
	`Writes are serialised by design (walletd is not safe under parallel keystore writes): the leader's
write throughput is about 1 / (walletd write + commit) ≈ 15–20 writes/s; parallel clients queue on
the write lock within their request timeout (default 30 s).`,
}

const keystoreMethod = `Measured by ` + "`bench.KeystoreReplication`" + ` (test/bench/walletsync.go) on a real kube-apiserver + etcd
(etcd with ` + "`--unsafe-no-fsync`" + `, as in the tests) and real walletd processes (bolt wallet files on local disk):
a leader and 2 followers. Lag = from the leader's ` + "`Commit`" + ` returning to the new key being in **every**
follower's walletd. Writes are sequential ` + "`generate-ec-address`" + ` + commit. The baselines: one
` + "`generate-ec-address`" + ` on walletd (a follower's apply cannot be faster), and catch-up by replaying every
` + "`generate-*`" + ` (what walletd-init and steady-state replay avoid).`

var keystoreReading = []string{
	`Lag is one watch delivery plus one ` + "`generate-*`" + ` on each follower's walletd, which syncs to disk twice;
when both followers' walletd sync at once on a busy 2-core machine the tail grows.`,
	`Promotion costs almost nothing in steady state (one get, one conditional update that bumps the term)
because followers replay every key as it is committed. After a sidecar restart the replica first
rebuilds its view of walletd (one ` + "`wallet-backup`" + ` and a derivation scan).`,
	`Bulk catch-up by replay is slow (walletd's disk syncs): a new or long-absent replica is (re)created by
walletd-init, which writes every key into the wallet file in one transaction before walletd starts.
To recreate a lagging replica: delete its wallet file (PVC) and restart the pod.`,
	`10,000 addresses are handled by not storing derived keys at all: the Secret holds the seed, the three
derivation counters, imported keys and removed ones. Imported keys are the limit of one Secret; a
commit that would not fit fails with ` + "`store.ErrTooLarge`" + ` and the client gets an error.`,
}

const nodeMethod = `Measured by ` + "`bench.MeasureNode`" + ` (test/bench/node.go) on the real single-node cluster of
test/node: etcd, kube-apiserver, controller-manager, scheduler, kubelet and kube-proxy (iptables) from
k8s.io/kubernetes v1.37.2, containerd + runc, CoreDNS. The shipped local overlay is applied with
` + "`kubectl apply -k`" + ` (test/node/overlays/local swaps only the images). A client on the host writes
` + "`generate-ec-address`" + ` through the factom-wallet Service's ClusterIP (kube-proxy's rules) in a loop,
retrying every 100 ms after an error; a failover's figure is the time from the disruption to the answer
of the first write sent after it. Each trial starts from a converged system (every pod Ready, one
leader). "Pod deleted" is ` + "`kubectl delete pod`" + ` of the leader (SIGTERM: a graceful handover);
"sidecar killed" is SIGKILL of the leader's sidecar process inside its container, from the host (the
pod and walletd live on; the kubelet restarts the container). A rollout trial restarts the whole wallet
StatefulSet under the same client, alternating ` + "`kubectl factom rollout restart`" + ` (the shipped OnDelete
strategy: followers first, one switchover, then the old leader) with the baseline ` + "`kubectl rollout restart`" + `
after switching the StatefulSet to RollingUpdate (the controller replaces the highest ordinal first), until
every pod is replaced, converged and a write sent after that is acknowledged; leadership changes are the
Lease's transitions over the trial.`

var nodeReading = []string{
	"A deleted leader pod hands over on SIGTERM (the sidecar closes writes, finishes the ones in flight and releases the Lease), so clients wait for the handover plus the Service's switch to the relabelled pod, not for the lease. Its old leader keeps serving from the delete until the kubelet's SIGTERM, so the first write sent after the delete is often answered at once; the longest time without an acknowledgement is the client-visible failover.",
	"A killed sidecar cannot release the Lease. Its pod's IP then refuses connections on the sidecar's ports (or, once the kubelet has restarted the container, another process answers there) and the kubelet reports the container terminated: the followers take that as evidence and one takes the Lease early under a new term; the restarted process, whose predecessor's term it never reuses, rejoins as a follower. Without early takeover (`--early-takeover=false`) a follower waits for the lease to expire (15 s by default).",
	"A rollout by the plugin moves the leadership once, by a switchover to a follower already replaced; the controller's RollingUpdate replaces the highest ordinal first, so the leadership moves once per replaced leader (twice when the leader is not the last pod replaced and the next leader is replaced after it). Each replaced follower costs the Service nothing; the switchover costs the handover's round trips.",
}
