# hwnas CLI cases, the conventions every command shares (docs/cli.md): list
# options, the --space rule, --progress, unknown options.
# Each function hwnas_cli_case_<name> is one CTest test, tools.cli.<name>;
# helpers and the driver are in cli_support.cmake.

# One list convention (docs/cli.md): comma-separated values, and repeating
# the option appends; a list option takes one value per occurrence, so a
# positional file after it stays a file.
function(hwnas_cli_case_list_options)
  hwnas_run(s sample --space ofa-mbv3 --resolutions 160,224 --n 4 --seed 2)
  hwnas_expect_ok(s)
  file(WRITE "${CASE_DIR}/sample.jsonl" "${s_out}")
  hwnas_run(v validate --space ofa-mbv3 --resolutions 160,224 sample.jsonl --json)
  hwnas_expect_ok(v)
  hwnas_expect_json(v)
  hwnas_check("${v_json}" 4 valid)
  hwnas_run(c count --space compofa-fixed --resolutions 160 --resolutions 192,224 --json)
  hwnas_expect_ok(c)
  hwnas_expect_json(c)
  hwnas_check("${c_json}" 3 resolutions)
  hwnas_check("${c_json}" 224 space resolutions 2)
  hwnas_run(e encode --space ofa-mbv3 --arch "${MAX_ARCH}" --hardware 1,2 --hardware 3 --json)
  hwnas_expect_ok(e)
  hwnas_expect_json(e)
  hwnas_check("${e_json}" 131 dim)
  hwnas_check("${e_json}" 3.0 encodings 0 130)
  # Values after the one a list option takes are not swallowed.
  hwnas_run(x count --space compofa-fixed --resolutions 160 224)
  hwnas_expect_error(x "224")
endfunction()

# The --space rule: a command that makes architectures defaults to ofa-mbv3
# w1.0; a command that loads a model takes the model's space, and --space or
# --width given to it must name that space.
function(hwnas_cli_case_space_rule)
  hwnas_run(c count --json)
  hwnas_expect_ok(c)
  hwnas_expect_json(c)
  hwnas_check("${c_json}" ofa-mbv3 space name)
  hwnas_check("${c_json}" 1.0 space width)
  hwnas_run(m measure --n 1 --warmup 0 --repeats 1 --resolutions 128 -o cpu.csv --json)
  hwnas_expect_ok(m)
  hwnas_expect_json(m)
  hwnas_check("${m_json}" ofa-mbv3 space)
  hwnas_run(l lut build --resolutions 128 --warmup 0 --repeats 1 -o lut --json)
  hwnas_expect_ok(l)
  hwnas_expect_json(l)
  hwnas_check("${l_json}" ofa-mbv3 space)
  hwnas_run(p lut predict --lut lut --arch @cpu.csv --json)
  hwnas_expect_ok(p)

  hwnas_synthetic_csv("${CASE_DIR}/synthetic.csv" 40 3)
  hwnas_run(t train --data synthetic.csv --target dev_a --epochs 1 -o m.hwnas --json)
  hwnas_expect_ok(t)
  hwnas_expect_json(t)
  hwnas_check("${t_json}" ofa-mbv3 space)
  hwnas_run(ok predict --model m.hwnas --space ofa-mbv3 --width 1.0 --arch "${MAX_ARCH}")
  hwnas_expect_ok(ok)
  hwnas_run(es eval --model m.hwnas --space compofa-fixed --data synthetic.csv --target dev_a)
  hwnas_expect_error(es "--space compofa-fixed: --model m.hwnas is a model of ofa-mbv3 w1.0, not of compofa-fixed w1.0")
  hwnas_run(ew predict --model m.hwnas --width 1.2 --arch "${MAX_ARCH}")
  hwnas_expect_error(ew "--width 1.2: --model m.hwnas is a model of ofa-mbv3 w1.0, not of ofa-mbv3 w1.2")
  hwnas_run(ef finetune --base m.hwnas --width 1.2 --data synthetic.csv --target dev_b --samples 5 -o f.hwnas)
  hwnas_expect_error(ef "--width 1.2: --base m.hwnas is a model of ofa-mbv3 w1.0, not of ofa-mbv3 w1.2")
endfunction()

# Every long-running command takes --progress.
function(hwnas_cli_case_progress_option)
  foreach(cmd IN ITEMS train finetune tune adapt measure "lut build" search quickstart)
    separate_arguments(words UNIX_COMMAND "${cmd}")
    hwnas_run(h ${words} --help)
    hwnas_expect_ok(h)
    hwnas_expect_contains(h out "--progress")
  endforeach()
endfunction()

# A misspelt option is reported as unknown, with the closest name, before
# any complaint about a missing required option.
function(hwnas_cli_case_unknown_option)
  hwnas_run(t train --data x.csv --lerning-rate 0.1)
  hwnas_expect_error(t "hwnas train: unknown option --lerning-rate; did you mean --learning-rate?")
  hwnas_run(c count --spcae ofa-mbv3)
  hwnas_expect_error(c "hwnas count: unknown option --spcae; did you mean --space?")
  hwnas_run(l lut build --repeat 3)
  hwnas_expect_error(l "hwnas lut build: unknown option --repeat; did you mean --repeats?")
  hwnas_run(m macs --bogus 1)
  hwnas_expect_error(m "hwnas macs: unknown option --bogus\n")
  # Values are not options, even when they start with a dash.
  hwnas_run(v encode --arch "${MAX_ARCH}" --hardware -1)
  hwnas_expect_ok(v)
endfunction()

# hwnas_top_keys(<var> <json text>): the top-level keys of a JSON object in
# the order printed (CMake's own JSON functions sort them).
function(hwnas_top_keys var text)
  string(REGEX MATCHALL "\n  \"[a-z_0-9]+\":" found "${text}")
  list(TRANSFORM found REPLACE "^\n  \"([a-z_0-9]+)\":$" "\\1")
  set(${var} "${found}" PARENT_SCOPE)
endfunction()

# JSON keys come out in the order docs/cli.md lists them, not sorted.
function(hwnas_cli_case_json_key_order)
  hwnas_synthetic_csv("${CASE_DIR}/synthetic.csv" 40 3)
  hwnas_run(t train --data synthetic.csv --target dev_a --epochs 1 -o m.hwnas --json)
  hwnas_expect_ok(t)
  hwnas_expect_json(t)
  hwnas_top_keys(keys "${t_out}")
  set(documented test train_s epochs stop_reason best_epoch best_validation_rmse train_rows validation_rows mlp_off
                 recipe target split space width seed learning_rate momentum weight_decay n_train n_validation n_test
                 model)
  if(NOT keys STREQUAL documented)
    hwnas_fail("train --json keys:\n  ${keys}\nexpected, as docs/cli.md lists them:\n  ${documented}")
  endif()
  hwnas_run(e eval --model m.hwnas --data synthetic.csv --target dev_a --json)
  hwnas_expect_ok(e)
  hwnas_top_keys(keys "${e_out}")
  if(NOT keys STREQUAL "test;latency_margin;model;target;split;n_test")
    hwnas_fail("eval --json keys: ${keys}")
  endif()
  # The metrics too, within5 and within10 in percent as the library holds them.
  string(REGEX MATCHALL "\n    \"[a-z_0-9]+\":" metrics "${t_out}")
  list(TRANSFORM metrics REPLACE "^\n    \"([a-z_0-9]+)\":$" "\\1")
  if(NOT metrics STREQUAL "rmse;rmse_pct;mae;mape;median_ape;max_error;within5;within10;kendall;spearman;n")
    hwnas_fail("train --json test keys: ${metrics}")
  endif()
endfunction()
