# Sourced by scripts/test.sh and scripts/sanitizer_tests.sh: one way to run ctest in CI.
#   run_ctest REPORT CTEST-ARGS...
# fails when no test matches (a wrong -R or -L must not pass as "0 tests, all ok"), writes a JUnit report to
# build/test-reports/REPORT.xml, and prints how many tests passed, failed and were skipped (a gtest test that
# calls GTEST_SKIP is reported as skipped, with its reason in the report and in ctest's output).
run_ctest() {
  local report=$1
  shift
  local dir=$PWD/build/test-reports
  mkdir -p "$dir"
  local rc=0
  ctest --no-tests=error --output-junit "$dir/$report.xml" "$@" || rc=$?
  if [[ -f $dir/$report.xml ]]; then
    local header tests failures skipped
    header=$(tr '\n\t' '  ' <"$dir/$report.xml" | grep -o -m1 '<testsuite [^>]*')
    tests=$(grep -o ' tests="[0-9]*"' <<<"$header" | tr -dc 0-9)
    failures=$(grep -o ' failures="[0-9]*"' <<<"$header" | tr -dc 0-9)
    skipped=$(grep -o ' skipped="[0-9]*"' <<<"$header" | tr -dc 0-9)
    echo "==> $report: ${tests:-?} tests: $((${tests:-0} - ${failures:-0} - ${skipped:-0})) passed," \
      "${failures:-?} failed, ${skipped:-?} skipped (JUnit report: $dir/$report.xml)"
    if [[ ${skipped:-0} -gt 0 ]]; then
      echo "    skipped (the reason is in the report and in the test's output):"
      grep -o '<testcase name="[^"]*"[^>]*status="notrun"' "$dir/$report.xml" |
        sed 's/<testcase name="\([^"]*\)".*/      \1/' || true
    fi
  fi
  return $rc
}
