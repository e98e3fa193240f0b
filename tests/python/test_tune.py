"""hwnas.tune against `hwnas tune`, and its parts (TuneJob, TrialResult,
AshaRungs) put together by hand as a farm does."""

import pickle

import pytest

import hwnas
from conftest import data_path

OPTIONS = dict(target="v100_64", max_epochs=12, grace_period=1, reduction_factor=3, learning_rates=[0.1, 0.03],
               momenta=[0.0, 0.5, 0.9], weight_decays=[1e-5])


@pytest.fixture(scope="module")
def ofa():
    return hwnas.Dataset.read_csv(str(data_path("help-ofa/ofa_gpu_latency.csv")), hwnas.space("ofa-mbv3"))


def without_time(report):
    return {k: v for k, v in report.items() if k != "tune_s"}


def test_tune_matches_the_program(ofa, cli):
    ours = hwnas.tune(ofa, **OPTIONS)
    theirs = cli("tune", "--data", data_path("help-ofa/ofa_gpu_latency.csv"), "--target", "v100_64",
                 "--max-epochs", 12, "--grace-period", 1, "--reduction-factor", 3, "--learning-rates", "0.1,0.03",
                 "--momenta", "0,0.5,0.9", "--weight-decays", "1e-5")
    assert without_time(ours) == without_time(theirs)
    assert ours["rungs"] == [1, 3, 9] and len(ours["trials"]) == 6
    assert any(t["stopped_early"] for t in ours["trials"])


def test_trials_run_one_by_one_give_the_same_report(ofa):
    job = pickle.loads(pickle.dumps(hwnas.TuneJob(ofa, **OPTIONS)))
    assert (job.trials, job.deciding_rungs, job.reduction_factor) == (6, 3, 3)
    rungs = hwnas.AshaRungs(job.trials, job.deciding_rungs, job.reduction_factor)
    asked = []

    def gate(i):
        def keep(rung, rmse):
            asked.append((i, rung))
            assert rungs.ready(i, rung)
            return rungs.report(i, rung, rmse)
        return keep

    trials = []
    for i in range(job.trials):
        trials.append(pickle.loads(pickle.dumps(job.run_trial(i, gate(i)))))
        rungs.finish(i)
    assert [t.index for t in trials] == list(range(6))
    assert asked[0] == (0, 0) and all(r < 3 for _, r in asked)
    stopped = [t for t in trials if t.stopped_early]
    assert stopped and all(t.stop_reason == "callback" and t.epochs in (1, 3, 9) for t in stopped)
    assert len(trials[0].validation_curve) == trials[0].epochs == 12
    assert without_time(job.report(list(reversed(trials)), 1.5)) == without_time(hwnas.tune(ofa, **OPTIONS))
    with pytest.raises(hwnas.InvalidArgument, match="5 trials for a grid of 6"):
        job.report(trials[:5], 0.0)
    with pytest.raises(hwnas.InvalidArgument, match="trial 6 is outside the grid of 6"):
        job.run_trial(6, lambda rung, rmse: True)


def test_tune_errors(ofa):
    with pytest.raises(hwnas.InvalidArgument, match="grace_period \\(20\\) must be <= max_epochs \\(12\\)"):
        hwnas.tune(ofa, **dict(OPTIONS, grace_period=20))
    with pytest.raises(hwnas.InvalidArgument, match="no_such_gpu"):
        hwnas.tune(ofa, **dict(OPTIONS, target="no_such_gpu"))
    with pytest.raises(hwnas.InvalidArgument, match="learning_rates\\[1\\] must be finite and > 0"):
        hwnas.tune(ofa, **dict(OPTIONS, learning_rates=[0.1, -1.0]))
    with pytest.raises(hwnas.InvalidArgument, match="asha: trial 1 reported rung 0 before every earlier trial"):
        hwnas.AshaRungs(2, 1, 2).report(1, 0, 1.0)
