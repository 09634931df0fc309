# PyTorch's side of bench/distributed.ts: one rank of an all-reduce (sum) of a float32 tensor over
# torch.distributed with Gloo, started with the same launcher variables (env:// rendezvous).
#   /usr/bin/python3 bench/distributed_torch.py <bytes,bytes,...> <iters> <warmup>
import json, os, sys, time
import torch
import torch.distributed as dist

sizes, iters, warmup = sys.argv[1].split(","), int(sys.argv[2]), int(sys.argv[3])
torch.set_num_threads(int(os.environ.get("NNLOCK_THREADS", "1")))
dist.init_process_group("gloo", init_method="env://")
by_size = {}
for size in sizes:
    t = torch.zeros(int(size) // 4)
    times = by_size[size] = []
    for i in range(warmup + iters):
        t0 = time.perf_counter()
        dist.all_reduce(t)
        if i >= warmup:
            times.append(time.perf_counter() - t0)
if dist.get_rank() == 0:
    print(json.dumps({"mode": "allreduce", "bySize": by_size}))
dist.destroy_process_group()
