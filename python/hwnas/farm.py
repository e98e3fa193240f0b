"""Measuring on many devices at once: a device farm on Dask distributed.

Each device runs one or more Dask workers that advertise it as a worker
resource, ``device-<name>=1`` (``dask worker <scheduler> --nthreads 1
--resources device-rtx4090=1``). ``measure`` and ``lut`` split what is left
of each device's build into shards, send every shard to a worker of its
device, and write each finished shard into the device's output on the
client at once, through ``hwnas.DatasetBuild`` and ``hwnas.LutBuild``: the
same resumable files as ``hwnas.measure`` and ``hwnas.build_lut``. A worker
that dies loses only its shard in flight, which is sent again; a client that
dies loses nothing finished, and a rerun with ``resume=True`` measures only
what is missing. ``tune`` runs hwnas.tune's ASHA trials as tasks on any
workers, with the rung decisions on the client: the same report as
hwnas.tune. docs/distributed.md sets up a real farm.
"""

import os
import time
import uuid
from collections import deque

from . import _hwnas

__all__ = ["lut", "measure", "resource", "tune"]


def resource(device):
    """The worker resource that marks a worker of `device`."""
    return "device-" + device


def measure(client, space, devices, n, output_dir, *, seed=0, executor="cpu", batch=1, warmup=5, repeats=20,
            threads=1, column="latency", shard_size=10, resume=False, retries=3, progress=True):
    """Times the same n distinct random sub-networks of `space` on each device
    into ``<output_dir>/<device>.csv`` (the dataset CSV of hwnas.measure, row
    ids and architectures as hwnas.measure with this seed gives them).
    executor: one name for every device, or a dict by device ("cpu",
    "torch-cpu", "torch-cuda" where the worker's hwnas has libtorch).
    Returns {device: hwnas.Dataset}."""
    executors = _per_device(executor, devices)
    os.makedirs(output_dir, exist_ok=True)
    jobs = []
    for device in devices:
        path = os.path.join(output_dir, device + ".csv")
        _check_output(path, resume)
        build = _hwnas.DatasetBuild(space, path, n=n, seed=seed, executor=executors[device], batch=batch,
                                    warmup=warmup, repeats=repeats, column=column)
        options = dict(executor=executors[device], batch=batch, warmup=warmup, repeats=repeats, threads=threads)
        jobs.append(_Job(device, n, build.missing, build.add,
                         lambda ids, build=build, options=options: (_time_networks, space, build.archs(ids), options)))
    _run(client, jobs, shard_size, retries, progress, "measure")
    return {device: _hwnas.Dataset.read_csv(os.path.join(output_dir, device + ".csv"), space) for device in devices}


def lut(client, space, devices, output_dir, *, resolutions=(), executor="cpu", batch=1, warmup=5, repeats=20,
        threads=1, shard_size=20, resume=False, retries=3, progress=True):
    """Times every layer key of `space` alone on each device into OFA's folder
    ``<output_dir>/<device>/`` (<r>_lookup_table.yaml per resolution, as
    hwnas.build_lut). Returns {device: hwnas.LookupTable}."""
    executors = _per_device(executor, devices)
    jobs = []
    for device in devices:
        path = os.path.join(output_dir, device)
        _check_output(path, resume, folder=True)
        build = _hwnas.LutBuild(space, path, executor=executors[device], resolutions=list(resolutions), batch=batch,
                                warmup=warmup, repeats=repeats)
        options = dict(executor=executors[device], batch=batch, warmup=warmup, repeats=repeats, threads=threads)
        jobs.append(_Job(device, build.total, build.missing, lambda key, stats, build=build: build.add(*key, stats),
                         lambda keys, options=options: (_time_lut_keys, space, keys, options)))
    _run(client, jobs, shard_size, retries, progress, "lut")
    return {device: _hwnas.LookupTable.read(os.path.join(output_dir, device), space) for device in devices}


def tune(client, data, *, target, retries=3, progress=True, **options):
    """hwnas.tune's ASHA with one task per trial on the cluster's workers
    (any worker; the trials are deterministic, so where one runs does not
    matter). Each trial asks the client at its rungs, and the client decides
    with hwnas.AshaRungs in the order hwnas.tune does: the report equals
    hwnas.tune's for the same data and options, whatever the workers' speed
    or failures. A trial whose worker dies is run again (up to `retries`
    times after errors). options: those of hwnas.tune but threads.
    progress: True (a bar), False, or a callable given each finished
    hwnas.TrialResult."""
    from distributed import Queue, Variable, as_completed

    job = _hwnas.TuneJob(data, target=target, threads=1, **options)
    start = time.monotonic()
    run = "hwnas-tune-" + uuid.uuid4().hex
    reports = Queue(run + "-rungs", client=client)
    rungs = _hwnas.AshaRungs(job.trials, job.deciding_rungs, job.reduction_factor)
    waiting, decided = {}, set()
    results = [None] * job.trials
    tries = [0] * job.trials
    pending = as_completed()
    trial_of = {}

    def submit(i):
        # Lower trials first: a trial waits at a rung only for lower ones.
        future = client.submit(_tune_trial, job, i, run, priority=job.trials - i, pure=False)
        trial_of[future] = i
        pending.add(future)

    def decide():
        for i, rung in sorted(waiting):
            if rungs.ready(i, rung):
                Variable(f"{run}-{i}-{rung}", client=client).set(rungs.report(i, rung, waiting.pop((i, rung))))
                decided.add((i, rung))
                return True
        return False

    for i in range(job.trials):
        submit(i)
    bar = _tqdm(job.trials, 0, "tune", "trial") if progress is True else None
    try:
        while pending.count():
            for i, rung, rmse in reports.get(batch=True):  # what it holds now, without waiting
                if (i, rung) not in decided:  # a rerun asks again: its answer is waiting
                    waiting[(i, rung)] = rmse
            for future in pending.next_batch(block=False):
                i = trial_of.pop(future)
                if future.status != "finished":
                    tries[i] += 1
                    if tries[i] > retries:
                        raise _hwnas.Error(f"tune: trial {i} failed {tries[i]} times: {future.exception()!r}")
                    submit(i)
                    continue
                results[i] = future.result()
                rungs.finish(i)
                if callable(progress):
                    progress(results[i])
                elif bar is not None:
                    bar.update(1)
            while decide():
                pass
            time.sleep(0.01)
    finally:
        for future in trial_of:
            future.cancel()
        for i, rung in decided:
            Variable(f"{run}-{i}-{rung}", client=client).delete()
        if bar is not None:
            bar.close()
    return job.report(results, time.monotonic() - start)


# What a worker runs: module-level functions, so that Dask sends them by name.
def _time_networks(space, archs, options):
    return _hwnas.time_networks(space, archs, **options)


def _time_lut_keys(space, keys, options):
    return _hwnas.time_lut_keys(space, keys, **options)


def _tune_trial(job, i, run):
    """One trial; at each rung it sends its validation RMSE to the client and
    waits for the decision, out of the worker's thread pool meanwhile."""
    from distributed import Queue, Variable, get_client, rejoin, secede

    client = get_client()
    reports = Queue(run + "-rungs", client=client)

    def keep(rung, rmse):
        reports.put((i, rung, rmse))
        secede()
        try:
            return Variable(f"{run}-{i}-{rung}", client=client).get()
        finally:
            rejoin()

    return job.run_trial(i, keep)



class _Job:
    """One device's build: its missing items, how to write one, and the task
    that times a shard of them."""

    def __init__(self, device, total, missing, add, task):
        self.device, self.total, self.missing, self.add, self.task = device, total, list(missing), add, task
        self.done = total - len(self.missing)


def _per_device(value, devices):
    if not devices or isinstance(devices, str):
        raise _hwnas.InvalidArgument("devices: expected a non-empty list of device names")
    for d in devices:
        if not isinstance(d, str) or not d or os.sep in d or d in (".", ".."):
            raise _hwnas.InvalidArgument(f"devices: {d!r} is not a device name (it names a file in output_dir)")
    if len(set(devices)) != len(devices):
        raise _hwnas.InvalidArgument("devices: a device is named twice")
    if isinstance(value, str):
        return {d: value for d in devices}
    missing = [d for d in devices if d not in value]
    if missing:
        raise _hwnas.InvalidArgument(f"executor: no executor for device {missing[0]!r}")
    return dict(value)


def _check_output(path, resume, folder=False):
    exists = os.path.exists(path) and not (folder and os.path.isdir(path) and not os.listdir(path))
    if exists and not resume:
        raise _hwnas.IoError(f"output: '{path}' exists; pass resume=True to continue that build")


def _check_workers(client, jobs):
    offered = set()
    for worker in client.scheduler_info()["workers"].values():
        offered.update(worker.get("resources", {}))
    for job in jobs:
        if job.missing and resource(job.device) not in offered:
            raise _hwnas.InvalidArgument(
                f"devices: no worker offers resource '{resource(job.device)}'; start one on that device with "
                f"`dask worker <scheduler> --nthreads 1 --resources {resource(job.device)}=1`")


def _run(client, jobs, shard_size, retries, progress, what):
    """Sends every job's missing items in shards to its device's workers and
    writes each finished shard; a failed shard (an error, a worker lost) is
    sent again up to `retries` times."""
    from distributed import as_completed

    if shard_size < 1:
        raise _hwnas.InvalidArgument("shard_size: must be at least 1")
    _check_workers(client, jobs)
    bar = _Progress(jobs, what, progress)
    pending = as_completed()
    shards = {}  # future -> (job, items, tries so far)

    def submit(job, items, tries):
        fn, *args = job.task(items)
        future = client.submit(fn, *args, resources={resource(job.device): 1}, pure=False)
        shards[future] = (job, items, tries)
        pending.add(future)

    for job in jobs:
        queue = deque(job.missing)
        while queue:
            submit(job, [queue.popleft() for _ in range(min(shard_size, len(queue)))], 0)
    try:
        for future in pending:
            job, items, tries = shards.pop(future)
            if future.status != "finished":
                error = future.exception() if future.status == "error" else RuntimeError(f"shard {future.status}")
                if tries >= retries:
                    raise _hwnas.Error(f"{what}: a shard of device '{job.device}' failed {tries + 1} times: "
                                       f"{type(error).__name__}: {error}") from error
                submit(job, items, tries + 1)
                continue
            for item, stats in zip(items, future.result()):
                job.add(item, stats)
            job.done += len(items)
            bar.update(job, len(items))
    finally:
        for future in list(shards):
            future.cancel()
        bar.close()


def _tqdm(total, done, what, unit):
    """A tqdm bar, or None without tqdm."""
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, initial=done, desc=what, unit=unit)


class _Progress:
    """A tqdm bar over every device's items (a line per shard without tqdm)."""

    def __init__(self, jobs, what, enabled):
        self.jobs, self.bar = jobs, None
        self.enabled = enabled
        if not enabled:
            return
        total = sum(job.total for job in jobs)
        done = sum(job.done for job in jobs)
        self.bar = _tqdm(total, done, what, "item")
        if self.bar is None:
            print(f"{what}: {done}/{total} done", flush=True)
        else:
            self._postfix()

    def _postfix(self):
        self.bar.set_postfix_str(", ".join(f"{job.device} {job.done}/{job.total}" for job in self.jobs))

    def update(self, job, n):
        if self.bar is not None:
            self.bar.update(n)
            self._postfix()
        elif self.enabled:
            print(f"{job.device}: {job.done}/{job.total} done", flush=True)

    def close(self):
        if self.bar is not None:
            self.bar.close()
