# hwnas CLI cases, several devices: train --devices, adapt, predict --device.
# Each function hwnas_cli_case_<name> is one CTest test, tools.cli.<name>;
# helpers and the driver are in cli_support.cmake.

# Several devices (docs/generalisation.md): a fingerprint model of dev_a
# (ids 0-9 are the reference architectures), adapted to dev_b (twice dev_a
# plus 0.5) from the fingerprint alone and with samples; predict by name and
# by a new device's record; a spec model; the errors.
function(hwnas_cli_case_devices)
  hwnas_synthetic_csv("${CASE_DIR}/synthetic.csv" 200 1)
  file(WRITE "${CASE_DIR}/ids.txt" "0\n1\n2\n3\n4\n5\n6\n7\n8\n9\n")
  file(WRITE "${CASE_DIR}/devices.json" [=[{"devices": [
    {"name": "dev_a", "kind": "cpu", "batch": 1, "spec": {"cores": 2, "clock_ghz": 2.5}},
    {"name": "dev_b", "kind": "cpu", "batch": 8, "spec": {"cores": 4, "clock_ghz": 3}}]}]=])
  hwnas_run(t train --data synthetic.csv --devices dev_a --reference ids.txt --device-file devices.json
                    --split random:7 --epochs 3 -o a.hwnas --json)
  hwnas_expect_ok(t)
  hwnas_expect_json(t)
  hwnas_check("${t_json}" fingerprint descriptor)
  hwnas_check_length("${t_json}" 10 reference_ids)
  hwnas_check("${t_json}" 30 test dev_a n)
  hwnas_run(z adapt --base a.hwnas --data synthetic.csv --target dev_b --split random:7 --samples 0 -o b0.hwnas --json)
  hwnas_expect_ok(z)
  hwnas_expect_json(z)
  hwnas_check("${z_json}" fingerprint strategy)
  hwnas_check("${z_json}" dev_a mapping base)
  hwnas_check("${z_json}" 10 mapping calibration)
  hwnas_check("${z_json}" 1 members)
  hwnas_get(z_rmse "${z_json}" test rmse_pct)
  if(NOT z_rmse LESS 15)
    hwnas_fail("dev_b from dev_a's model and the fingerprint alone: RMSE ${z_rmse} %, expected below 15 %")
  endif()
  hwnas_run(f adapt --base a.hwnas --data synthetic.csv --target dev_b --split random:7 --samples 30
                    --fine-tune-from 20 --seed 3 -o b30.hwnas --json)
  hwnas_expect_ok(f)
  hwnas_expect_json(f)
  hwnas_check("${f_json}" 40 mapping calibration)
  # Fine-tuning competed on a hold-out of the 30 samples; the better one is saved.
  hwnas_check_type("${f_json}" NUMBER holdout_rmse fingerprint)
  hwnas_check_type("${f_json}" NUMBER holdout_rmse finetune)
  hwnas_get(strategy "${f_json}" strategy)
  hwnas_get(members "${f_json}" members)
  if(NOT (strategy STREQUAL "finetune" AND members EQUAL 2) AND NOT (strategy STREQUAL "fingerprint" AND members EQUAL 1))
    hwnas_fail("adapt: strategy ${strategy} with ${members} members (expected finetune with 2 or fingerprint with 1)")
  endif()
  hwnas_check_type("${z_json}" NULL holdout_rmse finetune)
  hwnas_run(e eval --model b30.hwnas --data synthetic.csv --target dev_b --split random:7 --json)
  hwnas_expect_ok(e)
  # By name, a training device; by record, a new one with its fingerprint.
  hwnas_run(pa predict --model a.hwnas --device dev_a --arch "${MAX_ARCH}" --json)
  hwnas_expect_ok(pa)
  hwnas_expect_json(pa)
  hwnas_check_length("${pa_json}" 1 predictions)
  hwnas_run(errs predict --model a.hwnas --arch "${MAX_ARCH}")
  hwnas_expect_error(errs "--model a.hwnas holds several devices: choose one with --device")
  hwnas_run(errn predict --model a.hwnas --device dev_c --arch "${MAX_ARCH}")
  hwnas_expect_error(errn "--device dev_c: not a device of a.hwnas (dev_a); for a new device pass @FILE with its fingerprint")
  hwnas_run(errd predict --model b0.hwnas --device dev_a --arch "${MAX_ARCH}")
  hwnas_expect_error(errd "--device: --model b0.hwnas is a single-device model")

  # A spec model of both devices predicts a new device from its record.
  hwnas_run(s train --data synthetic.csv --devices dev_a,dev_b --descriptor spec --device-file devices.json
                    --split random:7 --epochs 2 -o spec.hwnas --json)
  hwnas_expect_ok(s)
  hwnas_expect_json(s)
  hwnas_check_length("${s_json}" 2 spec_features)
  file(WRITE "${CASE_DIR}/fresh.json" [=[{"name": "dev_c", "spec": {"cores": 3, "clock_ghz": 2.8}}]=])
  hwnas_run(ps predict --model spec.hwnas --device @fresh.json --arch "${MAX_ARCH}" --json)
  hwnas_expect_ok(ps)
  hwnas_expect_json(ps)
  hwnas_check("${ps_json}" dev_c device)
  hwnas_run(as adapt --base spec.hwnas --data synthetic.csv --target dev_b --samples 0 -o x.hwnas)
  hwnas_expect_error(as "--base spec.hwnas: a spec model; adapt needs a fingerprint model (train --descriptor fingerprint)")

  hwnas_run(e1 train --data synthetic.csv --devices dev_a -o x.hwnas)
  hwnas_expect_error(e1 "--descriptor fingerprint needs --reference: a file of the dataset ids whose latencies are the fingerprints")
  hwnas_run(e2 train --data synthetic.csv --devices dev_a --target dev_a --reference ids.txt -o x.hwnas)
  hwnas_expect_error(e2 "train: give --target or --devices, not both")
  hwnas_run(e3 train --data synthetic.csv -o x.hwnas)
  hwnas_expect_error(e3 "train: --target (one device) or --devices (several) is required")
  hwnas_run(e4 train --data synthetic.csv --devices dev_a,dev_c --reference ids.txt --device-file devices.json -o x.hwnas)
  hwnas_expect_error(e4 "--devices dev_c: no such device in --device-file devices.json")
  file(WRITE "${CASE_DIR}/bad_ids.txt" "0\n1\nseven\n")
  hwnas_run(e5 train --data synthetic.csv --devices dev_a --reference bad_ids.txt -o x.hwnas)
  hwnas_expect_error(e5 "bad_ids.txt:3:1: expected a dataset id, found 'seven'")
  file(WRITE "${CASE_DIR}/bad_dev.json" [=[{"name": "dev_c", "batch": 0}]=])
  hwnas_run(e6 predict --model spec.hwnas --device @bad_dev.json --arch "${MAX_ARCH}")
  hwnas_expect_error(e6 "bad_dev.json: field 'device.batch': must be at least 1, found 0")
  foreach(out IN ITEMS x.hwnas)
    if(EXISTS "${CASE_DIR}/${out}")
      hwnas_fail("a failed command left ${out}")
    endif()
  endforeach()
endfunction()
