# hwnas CLI cases, categorical spaces: the fbnet preset and a definition
# file (--space @FILE.json) through count, sample, encode, validate, train,
# eval, predict, finetune, tune and search; FBNet's network through macs,
# measure, lut build and predict, and search on a lookup table; the
# commands that need a layer list refuse a space without one.

set(FBNET_ARCH [=[["k3_e1", "skip", "k5_e6", 3, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 2, 3, 4, 5, 6, 7, 8]]=])

function(hwnas_cli_case_fbnet_space)
  hwnas_run(c count --space fbnet --json)
  hwnas_expect_ok(c)
  hwnas_expect_json(c)
  hwnas_check("${c_json}" fbnet space)
  hwnas_check("${c_json}" 22 decisions)
  hwnas_check("${c_json}" 984770902183611232881 total) # 9^22

  hwnas_run(s sample --space fbnet --n 3 --seed 1 --json)
  hwnas_expect_ok(s)
  hwnas_expect_json(s)
  hwnas_check_length("${s_json}" 3 archs)
  hwnas_check_length("${s_json}" 22 archs 0)
  hwnas_check_type("${s_json}" STRING archs 2 21)

  # Text output: one JSON list per line, which validate and encode read back.
  hwnas_run(t sample --space fbnet --n 3 --seed 1)
  hwnas_expect_ok(t)
  file(WRITE "${CASE_DIR}/archs.jsonl" "${t_out}")
  hwnas_run(v validate --space fbnet archs.jsonl --json)
  hwnas_expect_ok(v)
  hwnas_expect_json(v)
  hwnas_check("${v_json}" 3 valid)
  hwnas_check("${v_json}" 0 invalid)

  hwnas_run(e encode --space fbnet --arch "${FBNET_ARCH}" --json)
  hwnas_expect_ok(e)
  hwnas_expect_json(e)
  hwnas_check("${e_json}" 198 dim) # 22 one-hot blocks of 9
  hwnas_get(row "${e_json}" encodings 0)
  hwnas_nonzero_positions(bits "${row}")
  list(LENGTH bits n)
  list(GET bits 0 first)
  list(GET bits 1 second)
  list(GET bits 2 third)
  if(NOT n EQUAL 22 OR NOT first EQUAL 0 OR NOT second EQUAL 17 OR NOT third EQUAL 25)
    hwnas_fail("expected 22 bits, the first at 0 (k3_e1), 17 (9 + skip) and 25 (18 + k5_e6); found ${bits}")
  endif()

  hwnas_run(bad encode --space fbnet --arch [=[["k7_e6"]]=])
  hwnas_expect_error(bad "expected a list of 22 choices")
  hwnas_run(bad2 encode --space fbnet --encoding one-hot --arch "${FBNET_ARCH}")
  hwnas_expect_error(bad2 "--encoding: a resolution encoding; space fbnet has no resolution")
endfunction()

# A user's space from a definition file: decisions written out and repeated.
function(hwnas_cli_case_space_file)
  file(WRITE "${CASE_DIR}/space.json" [=[{
  "name": "mini",
  "decisions": [{"name": "width", "choices": [0.5, 1.0]},
                {"name": "op", "repeat": 4, "labels": ["conv3", "conv5", "skip"]}]
}]=])
  hwnas_run(c count --space @space.json --json)
  hwnas_expect_ok(c)
  hwnas_expect_json(c)
  hwnas_check("${c_json}" mini space)
  hwnas_check("${c_json}" 5 decisions)
  hwnas_check("${c_json}" 162 total) # 2 x 3^4

  file(WRITE "${CASE_DIR}/archs.jsonl" "[1.0, \"skip\", \"conv3\", 0, 2]\n[0.5, \"conv7\", 0, 0, 0]\n[0.75, 0, 0, 0, 0]\n")
  hwnas_run(v validate --space @space.json archs.jsonl)
  hwnas_expect_error(v "archs.jsonl:2: decision 'op0' (index 1): \"conv7\" is not one of its choices {conv3, conv5, skip}")

  file(WRITE "${CASE_DIR}/ok.jsonl" "[1.0, \"skip\", \"conv3\", 0, 2]\n[0.5, 1, 1, 1, \"conv5\"]\n")
  hwnas_run(o validate --space @space.json ok.jsonl --json)
  hwnas_expect_ok(o)
  hwnas_expect_json(o)
  hwnas_check("${o_json}" 2 valid)

  hwnas_run(w count --space @space.json --width 1.2)
  hwnas_expect_error(w "a categorical space has no width or resolutions")
  file(WRITE "${CASE_DIR}/broken.json" [=[{"name": "x", "decisions": [{"name": "a", "choices": [1, 1]}]}]=])
  hwnas_run(b count --space @broken.json)
  hwnas_expect_error(b "broken.json: categorical space: decision 'a' (index 0): choice value 1 appears twice")
  hwnas_run(m sample --space @missing.json)
  hwnas_expect_error(m "missing.json")
endfunction()

# FBNet's network: MACs and parameters of the CIFAR-100 network (every
# layer skipped: 11608960 MACs, 780660 parameters by hand, as in
# test_categorical_space) and the ImageNet one; a space without layers has none.
function(hwnas_cli_case_fbnet_macs)
  hwnas_run(m macs --space fbnet --arch [=[["skip","skip","skip","skip","skip","skip","skip","skip","skip","skip","skip","skip","skip","skip","skip","skip","skip","skip","skip","skip","skip","skip"]]=] --layers --json)
  hwnas_expect_ok(m)
  hwnas_expect_json(m)
  hwnas_check("${m_json}" fbnet space)
  hwnas_check("${m_json}" 11608960 results 0 macs)
  hwnas_check("${m_json}" 780660 results 0 params)
  hwnas_check_length("${m_json}" 10 results 0 layers)
  hwnas_check("${m_json}" conv results 0 layers 2 kind) # the first projecting skip, 16 -> 24
  hwnas_check("${m_json}" skip results 0 arch 21)

  hwnas_run(i macs --space fbnet-imagenet --arch "${FBNET_ARCH}")
  hwnas_expect_ok(i)
  if(NOT i_out MATCHES "^[0-9]+\\.[0-9]+ M MACs, [0-9]+\\.[0-9]+ M params  \\[\"k3_e1\",\"skip\",\"k5_e6\",\"k3_e6\"")
    hwnas_fail("unexpected text output: ${i_out}")
  endif()

  file(WRITE "${CASE_DIR}/space.json" [=[{"name": "plain", "decisions": [{"name": "a", "choices": [1, 2]}]}]=])
  hwnas_run(p macs --space @space.json --arch "[1]")
  hwnas_expect_error(p "--space @space.json: macs needs a layer list; space 'plain' has none")
endfunction()

# Measuring FBNet's network on this CPU: a dataset with the space's columns
# (resumed), its lookup table (106 keys: the stem, 8 blocks for the first
# and the later layers of each stage, 6 projecting skips, the head's 3) and
# the table's sums for the measured rows.
function(hwnas_cli_case_fbnet_measure_and_lut)
  set(quick --warmup 0 --repeats 2)
  hwnas_run(a measure --space fbnet --n 2 ${quick} -o cpu.csv --json)
  hwnas_expect_ok(a)
  hwnas_expect_json(a)
  hwnas_check("${a_json}" 2 measured)
  hwnas_check("${a_json}" fbnet space)
  hwnas_run(b measure --space fbnet --n 3 ${quick} -o cpu.csv --resume --json)
  hwnas_expect_ok(b)
  hwnas_expect_json(b)
  hwnas_check("${b_json}" 1 measured)
  hwnas_check("${b_json}" 2 resumed)
  file(STRINGS "${CASE_DIR}/cpu.csv" rows)
  list(GET rows 0 header)
  if(NOT header MATCHES "^id,op0,op1,.*,op21,latency,latency_mean,latency_p90,latency_std,latency_runs$")
    hwnas_fail("unexpected header: ${header}")
  endif()

  hwnas_run(l lut build --space fbnet ${quick} -o lut --json)
  hwnas_expect_ok(l)
  hwnas_expect_json(l)
  hwnas_check("${l_json}" 106 measured)
  hwnas_check("${l_json}" 32 resolutions 0)
  if(NOT EXISTS "${CASE_DIR}/lut/32_lookup_table.yaml")
    hwnas_fail("lut build wrote no lut/32_lookup_table.yaml")
  endif()
  hwnas_run(p lut predict --space fbnet --lut lut --arch @cpu.csv --json)
  hwnas_expect_ok(p)
  hwnas_expect_json(p)
  hwnas_check_length("${p_json}" 3 predictions)
  hwnas_check_type("${p_json}" NUMBER predictions 2 latency)
  # The ImageNet network's keys are not in the CIFAR-100 table.
  hwnas_run(w lut predict --space fbnet-imagenet --lut lut --arch "${FBNET_ARCH}")
  hwnas_expect_error(w "no table for resolution 224 (tables: 32)")
endfunction()

function(hwnas_cli_case_categorical_refused)
  file(WRITE "${CASE_DIR}/plain.json" [=[{"name": "plain", "decisions": [{"name": "a", "choices": [1, 2]}]}]=])
  hwnas_run(l lut predict --space @plain.json --lut x.json --arch "[1]")
  hwnas_expect_error(l "--space @plain.json: lut predict needs a layer list; space 'plain' has none")
  hwnas_run(m measure --space @plain.json --n 1 -o x.csv)
  hwnas_expect_error(m "--space @plain.json: measure needs a layer list")
  hwnas_run(s sample --space fbnet --distinct)
  hwnas_expect_error(s "--distinct: for MBConv spaces; space fbnet is categorical")
endfunction()

# HELP's FBNet measurements: train, eval, predict, finetune, tune, search.
function(hwnas_cli_case_fbnet_learned)
  hwnas_data(csv help-fbnet/fbnet_latency.csv)
  if(NOT csv)
    return()
  endif()
  hwnas_run(r train --space fbnet --data "${csv}" --target pixel3 --epochs 3 -o pixel3.hwnas --json)
  hwnas_expect_ok(r)
  hwnas_expect_json(r)
  hwnas_check_test_metrics("${r_json}" 750)
  hwnas_check("${r_json}" fbnet space)
  hwnas_check("${r_json}" 3500 n_train)
  string(JSON has_width ERROR_VARIABLE no_width GET "${r_json}" width)
  if(NOT no_width)
    hwnas_fail("a categorical space has no width, but train printed one: ${r_out}")
  endif()

  hwnas_run(e eval --model pixel3.hwnas --data "${csv}" --target pixel3 --json)
  hwnas_expect_ok(e)
  hwnas_expect_json(e)
  hwnas_get(train_rmse "${r_json}" test rmse)
  hwnas_get(eval_rmse "${e_json}" test rmse)
  hwnas_check_same_number("eval's test RMSE vs train's" "${eval_rmse}" "${train_rmse}")

  hwnas_run(p predict --model pixel3.hwnas --arch "${FBNET_ARCH}" --json)
  hwnas_expect_ok(p)
  hwnas_expect_json(p)
  hwnas_check_length("${p_json}" 1 predictions)
  hwnas_get(ms "${p_json}" predictions 0)
  hwnas_check_positive("prediction" "${ms}")
  hwnas_run(pc predict --model pixel3.hwnas --arch "@${csv}" --json)
  hwnas_expect_ok(pc)
  hwnas_expect_json(pc)
  hwnas_check_length("${pc_json}" 5000 predictions)
  hwnas_check("${pc_json}" 4999 predictions 4999 id)
  hwnas_run(ps predict --model pixel3.hwnas --space ofa-mbv3 --arch "${FBNET_ARCH}")
  hwnas_expect_error(ps "--space ofa-mbv3: --model pixel3.hwnas is a model of space 'fbnet'")
  hwnas_run(pw predict --model pixel3.hwnas --arch "${MAX_ARCH}")
  hwnas_expect_error(pw "expected a list of 22 choices")

  hwnas_run(f finetune --base pixel3.hwnas --data "${csv}" --target samsung_a50 --samples 20 --epochs 3
            -o a50.hwnas --json)
  hwnas_expect_ok(f)
  hwnas_expect_json(f)
  hwnas_check("${f_json}" 20 samples)
  hwnas_check_test_metrics("${f_json}" 750)

  hwnas_run(t tune --space fbnet --data "${csv}" --target pixel3 --max-epochs 2 --grace-period 1
            --learning-rates 0.01,0.003 --momenta 0.9 --weight-decays 1e-4 --json)
  hwnas_expect_ok(t)
  hwnas_expect_json(t)
  hwnas_check_length("${t_json}" 2 trials)

  # A second model as the fitness: any predictor of the space can rank.
  hwnas_run(a train --space fbnet --data "${csv}" --target gold_6240 --epochs 2 -o fitness.hwnas)
  hwnas_expect_ok(a)
  hwnas_run(s search --space fbnet --latency model:pixel3.hwnas --accuracy model:fitness.hwnas --budget 20,30
            --generations 5 --population 20 --pareto front.csv --json)
  hwnas_expect_ok(s)
  hwnas_expect_json(s)
  hwnas_check_length("${s_json}" 2 results)
  hwnas_check_length("${s_json}" 22 results 0 arch)
  hwnas_get(lat "${s_json}" results 1 latency)
  hwnas_to_fixed(lat_ms "${lat}" 0)
  if(lat_ms GREATER_EQUAL 30)
    hwnas_fail("the winner under 30 ms predicts ${lat} ms")
  endif()
  file(STRINGS "${CASE_DIR}/front.csv" front LIMIT_COUNT 1)
  if(NOT front MATCHES "^id,op0,op1,.*,op21,latency,accuracy$")
    hwnas_fail("front.csv: expected the fbnet columns, found '${front}'")
  endif()
  # The same search on a lookup table of this CPU (FBNet's layers measured alone).
  hwnas_run(lb lut build --space fbnet --warmup 0 --repeats 2 -o lut)
  hwnas_expect_ok(lb)
  hwnas_run(sl search --space fbnet --latency lut:lut --accuracy model:fitness.hwnas --budget 1000
            --generations 3 --population 10 --json)
  hwnas_expect_ok(sl)
  hwnas_expect_json(sl)
  hwnas_check_type("${sl_json}" NUMBER results 0 macs)
  hwnas_run(sm search --space ofa-mbv3 --latency model:pixel3.hwnas --accuracy model:fitness.hwnas --budget 20)
  hwnas_expect_error(sm "holds a predictor of the categorical space 'fbnet'")
endfunction()

# A fingerprint model of FBNet devices (HELP's 10 reference architectures),
# adapted to a held-out device from 10 samples, then asked by --device.
function(hwnas_cli_case_fbnet_devices)
  hwnas_data(csv help-fbnet/fbnet_latency.csv)
  hwnas_data(ref help-fbnet/reference_arch_ids.txt)
  if(NOT csv OR NOT ref)
    return()
  endif()
  hwnas_run(t train --space fbnet --data "${csv}" --devices 1080ti_1,silver_4114,pixel3 --reference "${ref}"
            --epochs 3 -o devices.hwnas --json)
  hwnas_expect_ok(t)
  hwnas_expect_json(t)
  hwnas_check("${t_json}" 750 test pixel3 n)
  hwnas_check_type("${t_json}" NUMBER test silver_4114 spearman)
  hwnas_run(a adapt --base devices.hwnas --data "${csv}" --target essential_ph_1 --samples 10 -o ph1.hwnas --json)
  hwnas_expect_ok(a)
  hwnas_expect_json(a)
  hwnas_check("${a_json}" 10 samples)
  hwnas_check("${a_json}" blend strategy)
  hwnas_check_type("${a_json}" STRING mapping base)
  hwnas_check_type("${a_json}" NUMBER blend weights pixel3)
  hwnas_check_test_metrics("${a_json}" 748) # the 750 test rows but the 2 reference architectures among them
  hwnas_run(p predict --model devices.hwnas --device pixel3 --arch "${FBNET_ARCH}" --json)
  hwnas_expect_ok(p)
  hwnas_expect_json(p)
  hwnas_check_length("${p_json}" 1 predictions)
  hwnas_run(w train --space fbnet --width 1.2 --data "${csv}" --devices 1080ti_1 --reference "${ref}" -o x.hwnas)
  hwnas_expect_error(w "a categorical space has no width or resolutions")
endfunction()
