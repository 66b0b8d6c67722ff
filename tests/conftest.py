import os

# Tests run with one XLA thread (as the workflow's jobs do) and without MLflow unless a test turns it on.
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
os.environ.setdefault("REPRO_TRACKING", "off")
os.environ.setdefault("JAX_PLATFORMS", "cpu")
