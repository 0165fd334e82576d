#!/usr/bin/env bash
# Builds a sanitizer preset and runs the tests under it:
#   scripts/sanitizer_tests.sh          ASan+UBSan (preset asan): unit tests, and the integration tests whose own
#                                       process does not load libtorch (the edgeserve processes they start are ASan builds)
#   scripts/sanitizer_tests.sh --all    ASan+UBSan: every test but those that look for nothing ASan adds or repeat
#                                       code paths over other UCX lanes (see below); UBSan instruments src/ but the
#                                       command-line and sweep/report files (src/CMakeLists.txt says why)
#   scripts/sanitizer_tests.sh --tsan   ThreadSanitizer (preset tsan): every test but the slow ones, those whose
#                                       deadlines assume native speed (TSan slows the server 5-15×) and those that
#                                       repeat our threads over other UCX lanes; suppressions for uninstrumented
#                                       libraries in tools/sanitizers/tsan.supp
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-}
case $mode in "" | --all | --tsan) ;; *) echo "usage: $0 [--all|--tsan]" >&2; exit 2 ;; esac
scripts/setup.sh --no-build
source scripts/lib/ctest_run.sh

preset=asan
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
# intercept_tls_get_addr=0: gcc 12's runtime takes a dynamic TLS block that happens to start 16 bytes into a page for
# one with glibc 2.19's header and reads garbage as its bounds, and LeakSanitizer's tracer then dies at exit ("Tracer
# caught signal 11"; fixed after GCC 13). libtorch's TLS is dynamic since edgeserve opens it as a module
# (src/engine/engine_module.h): one server of 250 failed so in a 2026-12-07 rehearsal. Leaks are still found: the
# blocks are heap memory reachable from each thread's static TLS, which LeakSanitizer scans.
export ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:strict_init_order=1:intercept_tls_get_addr=0
# No ASan suppressions needed: libtorch 1.13, libgomp and ZeroMQ run clean with leak checking on (Debian 12).
# UCX without its CMA transport (UCX_TLS=^cma, in the asan and tsan test presets): UCX 1.22 probes a peer for CMA
# with process_vm_readv() whose one iovec is both source and destination; when the peer happens to have that stack
# address mapped, the read overwrites the iovec, and the sanitizers' interceptor then reads the overwritten pointer
# and crashes (2026-12-07: a gateway under ASan, reconnecting to a restarted ucx backend, SEGV in
# uct_cma_iface_is_reachable_v2). Harmless natively; our code paths are the same over UCX's other shared memory.
if [[ $mode == --tsan ]]; then
  preset=tsan
  export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$PWD/tools/sanitizers/tsan.supp"
  # UCX's memory hooks (libucm patches mmap/madvise to keep its registration cache coherent) run inside
  # TSan's interceptors and crash every process at its first thread exit; edgeserve registers its buffers
  # explicitly and needs no hooks. The tsan test preset sets the same three, so `ctest --preset tsan` alone works.
  export UCX_MEM_MMAP_HOOK_MODE=none UCX_MEM_MALLOC_HOOKS=n
fi

echo "==> configuring and building (preset $preset)"
start=$SECONDS
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j"$(nproc)"
echo "==> built in $((SECONDS - start)) s"

start=$SECONDS
# ucx killed-client tests whose lanes include UCX's shared memory (see below).
# (tls_sm_tcp.UcxTransport.AKilledClient* are not registered at all: tests/CMakeLists.txt.)
killed_over_shared_memory='^Registry/Conformance\.AKilledClientLeavesTheServerServing/ucx'
case $mode in
  --all)
    # UCX's shared-memory hazard (README, "The UCX transport": a client killed mid-send can leave the server's
    # FIFO waiting on an unfilled slot; UcxChurn runs over tcp lanes for it) makes the killed-client cases over the
    # default lanes flaky under the sanitizers' slowdown (TSan, 2026-11-30: the next client got no welcome); their
    # tcp-lane variants (tls_tcp.*) run here, and every variant runs natively.
    # BoundedSoak and ServerMemoryStaysFlat… (memory flat over a long run: 65 s and 15 s under ASan, whose
    # quarantine holds freed memory on purpose; on 2026-12-06 RSS fell by 16 MiB and the latter failed) and
    # HelpFitsATerminal (help text widths, 16 s) look for nothing ASan adds; they run natively. So do, to keep CI
    # under 45 min: UsageErrors (about 50 one-shot CLI runs refused by CLI11 before anything starts: 57 s under
    # ASan), UcxChurn (200 killed clients' descriptors and memory given back: 48 s; the killed-client cases here run
    # the same clean-up under ASan), the sweep's orchestration (Sweep, SweepFile: 47 s of starting processes and
    # writing files; experiment files are parsed under ASan in experiment_test) and the ucx suite over sm,tcp lanes
    # (tls_sm_tcp.*, 40 s: our code paths are those of the default lanes, which include shared memory, and of
    # tls_tcp.*).
    run_ctest asan-all --preset asan -j"$(nproc)" \
      -E "$killed_over_shared_memory|BoundedSoak|ServerMemoryStaysFlatOverHundredsOfSixteenMibReplies|HelpFitsATerminal|UsageErrors|UcxChurn|^Sweep\.|^SweepFile\.|^tls_sm_tcp\." ;;
  --tsan)
    # Timing-bound under TSan: a kill 3 s into a run, a 5 s latency bound while another client floods, a
    # request that must arrive within one inference, 8 requests that must all arrive while the first one runs
    # (SIGTERM), and a 300 ms hold that must keep a backend's share under a quarter (least-outstanding): a
    # TSan-built test process sends far slower (in one CI run 2 of the 8 had not arrived, and the held backend
    # got 29 of 100). They run natively and under ASan. The test presets scale the tests' deadlines
    # (EDGESERVE_TEST_TIME_SCALE), which cannot make a slow sender fast. UcxChurn (200 clients started and
    # killed: resources given back, not a race), UsageErrors (about 50 one-shot CLI runs, one thread each: 53 s
    # natively), BoundedSoak (memory stays flat over a long run: 146 s under TSan) and the two other memory bounds
    # (ServerMemoryStaysFlat…: hundreds of 16 MiB replies, 59 s; UnfinishedRequestsTogetherAreBoundedInMemory,
    # 32 s) cost minutes under TSan and look for no race the shorter concurrency tests miss (the 16 MiB replies'
    # threads run in LargeReply's byte-exact test); they run natively and under ASan. So do the two StrayBytes tests
    # (garbage on every listener: 48 s each under TSan; parsers' robustness, which ASan and the fuzzers check).
    # Also left to the native and ASan runs, to keep CI under 45 min (2026-12-01: 161 s of TSan test time): the
    # fair-share check across changing client ids (62 s: the scheduler's decisions, its threads exercised by the
    # other Limits and scheduling tests), three CURVE cases (CURVE is ZeroMQ's; our threads are tcp's, tested; the
    # refusal-flood case stays), the sweep's orchestration (Sweep, SweepFile: one thread starting processes) and
    # the far-oversize frame (a size check, 19 s).
    tsan_slow="AClientCannotEscapeItsShareByChangingItsClientId|CurveAuth\.(BenchWithCurveKeys|AGatewayWithCurve"
    tsan_slow+="ServesAuthorizedClientsOnly|OnlyAuthorizedClientsAreServedAndRefusalsAreLogged)|^Sweep\.|^SweepFile\."
    tsan_slow+="|FarOversizeMessageDropsOnlyThatConnection"
    # And (2026-12-06: 94 s of TSan test time) the in-process model tests (RealModels: one thread, libtorch's own
    # pool uninstrumented) and the ucx suites rerun over other UCX lanes (tls_sm_tcp.*, tls_tcp.Registry/*): our
    # threads are the same whichever lanes UCX picks; tls_tcp.UcxTransport.* and the default lanes run here.
    tsan_slow+="|^RealModels\.|^tls_sm_tcp\.|^tls_tcp\.Registry/"
    run_ctest tsan --preset tsan -j"$(nproc)" -LE gpu \
      -E "$killed_over_shared_memory|UcxChurn|UsageErrors|BoundedSoak|ServerMemoryStaysFlatOverHundredsOfSixteenMibReplies|UnfinishedRequestsTogetherAreBoundedInMemory|ServerKilledMidRunEndsTheBench|ClientThatNeverReadsCostsBoundedMemory|OneKeyIsOneShareHoweverManyConnectionsItOpens|SigtermAnswersTheRequestsAlreadyReceivedFirst|SendsToTheBackendWithTheFewestRequestsInFlight|StrayBytesOnEveryListener|$tsan_slow"
    ;;
  *)
    # Label unit, then BenchProcess, BatchingProcess and JpegProcess: their test processes are plain C++ and drive
    # ASan-built edgeserve processes (serve and bench over tcp and local; batching, JPEG decoding, corrupt JPEGs).
    # ctest adds the export_test_models fixture (Python) to each run.
    run_ctest asan-unit --preset asan -j"$(nproc)" -L unit
    run_ctest asan-bench --preset asan -j"$(nproc)" -R '^(BenchProcess|BatchingProcess|JpegProcess)\.'
    ;;
esac
echo "==> sanitizer tests ok in $((SECONDS - start)) s"
