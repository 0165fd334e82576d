# Runs a command and prints its minor page faults and CPU time (getrusage of children).
import resource, subprocess, sys
rc = subprocess.run(sys.argv[1:]).returncode
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print(f"client-faults minor={r.ru_minflt} user={r.ru_utime:.2f}s sys={r.ru_stime:.2f}s", file=sys.stderr)
sys.exit(rc)
