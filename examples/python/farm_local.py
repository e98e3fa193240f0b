"""A device farm on one machine: this CPU's latency dataset measured by two
Dask workers at once, then a predictor's hyperparameters tuned on it, one
trial per task (docs/distributed.md sets up real devices).

    PYTHONPATH=build/python python3 examples/python/farm_local.py [OUTPUT_DIR]

Both workers advertise the resource device-cpu, as two identical devices
would: each shard of networks goes to whichever is free. (Here they share
one machine's cores, so their timings disturb each other; on a real farm
each device runs its own worker.) The dataset CSV
(OUTPUT_DIR/cpu.csv, default a temporary folder) is resumable: run again
with the same folder and only missing rows are measured. Exits with 77
(skipped) without Dask distributed (python3-distributed).
"""

import sys
import tempfile

import hwnas

try:
    import distributed
    import hwnas.farm
except ImportError as e:
    print(f"skipped: {e} (install python3-distributed)")
    sys.exit(77)


def main(out):
    space = hwnas.space("ofa-mbv3", resolutions=[128, 160])
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, resources={"device-cpu": 1},
                                  dashboard_address=":0") as cluster, distributed.Client(cluster) as client:
        data = hwnas.farm.measure(client, space, ["cpu"], n=60, output_dir=out, warmup=1, repeats=5,
                                  shard_size=5, resume=True, progress=False)["cpu"]
        lat = data.column("latency")
        print(f"measured {len(data)} networks into {out}/cpu.csv: {min(lat):.2f} to {max(lat):.2f} ms")

        report = hwnas.farm.tune(client, data, target="latency", split="random:0", max_epochs=30, grace_period=3,
                                 reduction_factor=3, learning_rates=[0.03, 0.01], momenta=[0.5, 0.9],
                                 weight_decays=[1e-5], progress=False)
    best = report["best"]
    stopped = sum(t["stopped_early"] for t in report["trials"])
    print(f"tuned {len(report['trials'])} trials ({stopped} stopped by ASHA at rungs {report['rungs']}): best "
          f"lr {best['learning_rate']:g}, momentum {best['momentum']:g}, validation RMSE "
          f"{best['final_validation_rmse']:.3f} ms")
    # The farm's report is hwnas.tune's on this machine, trial for trial.
    local = hwnas.tune(data, target="latency", split="random:0", max_epochs=30, grace_period=3, reduction_factor=3,
                       learning_rates=[0.03, 0.01], momenta=[0.5, 0.9], weight_decays=[1e-5])
    assert local["trials"] == report["trials"], "the farm's tuning differs from hwnas.tune's"
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1:
        sys.exit(main(sys.argv[1]))
    with tempfile.TemporaryDirectory() as tmp:
        sys.exit(main(tmp))
