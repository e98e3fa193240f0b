# hwnas CLI cases, search: OFA's evolutionary search on OFA's artefacts.
# Each function hwnas_cli_case_<name> is one CTest test, tools.cli.<name>;
# helpers and the driver are in cli_support.cmake.

# The inputs of OFA's search: ${lut}, OFA's Note10 tables, acc.hwnas, its
# accuracy predictor (w1.2), and ${search}, a CompOFA fixed-kernel w1.2
# search on them; without the data the calling case returns (skipped). A
# macro, so that return() leaves the case.
macro(hwnas_search_inputs)
  hwnas_data(lut note10-lut)
  hwnas_data(npy ofa-acc-predictor)
  if(NOT lut OR NOT npy)
    return()
  endif()
  hwnas_run(acc_import import-torch --npy "${npy}" --space ofa-mbv3 --width 1.2 -o acc.hwnas)
  hwnas_expect_ok(acc_import)
  set(search search --space compofa-fixed --width 1.2 --resolutions 160,176,192,208,224 --latency "lut:${lut}"
             --accuracy model:acc.hwnas)
endmacro()

# OFA's search on OFA's artefacts: Note10 tables and the accuracy predictor,
# CompOFA fixed-kernel w1.2; winners meet their budgets; the same seed gives
# the same winners with and without memoisation.
function(hwnas_cli_case_search)
  hwnas_search_inputs()
  set(args ${search} --budget 20 --budget 30 --generations 60)
  hwnas_run(a ${args} --memoize --pareto front.csv --json)
  hwnas_expect_ok(a)
  hwnas_expect_json(a)
  hwnas_check_length("${a_json}" 2 results)
  hwnas_check("${a_json}" 20.0 results 0 budget)
  hwnas_check("${a_json}" 30.0 results 1 budget)
  foreach(i 0 1)
    hwnas_get(lat "${a_json}" results ${i} latency)
    hwnas_get(budget "${a_json}" results ${i} budget)
    string(REGEX REPLACE "\\..*" "" budget "${budget}")
    hwnas_check_type("${a_json}" NUMBER results ${i} accuracy)
    hwnas_check_type("${a_json}" OBJECT results ${i} arch)
    # CMake compares integers only: floor(latency) < budget.
    string(REGEX REPLACE "\\..*" "" lat_int "${lat}")
    if(lat_int GREATER_EQUAL budget)
      hwnas_fail("winner ${i} breaks its budget: ${lat} > ${budget}")
    endif()
  endforeach()
  hwnas_check_range("${a_json}" 1 1215 evaluations)
  if(NOT EXISTS "${CASE_DIR}/front.csv")
    hwnas_fail("--pareto front.csv was not written")
  endif()
  # The text: per budget, what the winner scores, then its spec.
  hwnas_run(b ${args})
  hwnas_expect_ok(b)
  hwnas_lines(lines "${b_out}")
  list(LENGTH lines n)
  if(NOT n EQUAL 4)
    hwnas_fail("expected a summary and a spec JSON line per budget, found ${n} lines:\n${b_out}")
  endif()
  foreach(i 0 1)
    math(EXPR at "2 * ${i}")
    list(GET lines ${at} summary)
    hwnas_get(budget "${a_json}" results ${i} budget)
    string(REGEX REPLACE "\\.0$" "" budget "${budget}")
    if(NOT summary MATCHES "^budget ${budget} ms: accuracy 0\\.[0-9]+, predicted latency [0-9.]+ ms, [0-9]+\\.[0-9][0-9][0-9] M MACs$")
      hwnas_fail("unexpected summary line for budget ${budget}: '${summary}'")
    endif()
    math(EXPR at "2 * ${i} + 1")
    list(GET lines ${at} spec)
    hwnas_check_length("${spec}" 20 ks)
  endforeach()
  hwnas_run(c ${args} --no-memoize)
  hwnas_expect_ok(c)
  if(NOT b_out STREQUAL c_out)
    hwnas_fail("memoisation changed the winners:\n${b_out}\nvs\n${c_out}")
  endif()
  hwnas_run(e search --space compofa-fixed --width 1.2 --resolutions 160,176,192,208,224 --latency "lut:${lut}"
                     --accuracy model:acc.hwnas --budget 1)
  hwnas_expect_error(e "search: no architecture of compofa-fixed meets the budget 1 ms")
  hwnas_run(f search --space compofa-fixed --latency "table:${lut}" --accuracy model:acc.hwnas --budget 20)
  hwnas_expect_error(f "--latency: expected lut:..., model:..., measure:..., found 'table:")
endfunction()

# Every model carries its space: a model of another width or supernet than
# the search's is refused, naming both spaces; import-torch, whose .npy files
# carry none, needs --space and --width.
function(hwnas_cli_case_search_space_mismatch)
  hwnas_search_inputs()  # acc.hwnas: w1.2
  hwnas_run(n import-torch --npy "${npy}" -o none.hwnas)
  hwnas_expect_error(n "--space is required")
  hwnas_run(w import-torch --npy "${npy}" --space ofa-mbv3 -o none.hwnas)
  hwnas_expect_error(w "--width is required")
  hwnas_run(i10 import-torch --npy "${npy}" --space ofa-mbv3 --width 1.0 -o acc10.hwnas)
  hwnas_expect_ok(i10)
  set(search search --space compofa-fixed --width 1.2 --resolutions 160,176,192,208,224 --budget 20
                    --generations 5)
  hwnas_run(a ${search} --latency "lut:${lut}" --accuracy model:acc10.hwnas)
  hwnas_expect_error(a "search: the fitness's space ofa-mbv3 w1.0 does not hold every network of the searched space compofa-fixed w1.2 (width 1.2, not 1.0)")
  # The accuracy model standing in for a latency model of the wrong width.
  hwnas_run(l ${search} --latency model:acc10.hwnas --accuracy model:acc.hwnas)
  hwnas_expect_error(l "search: the latency source's space ofa-mbv3 w1.0 does not hold every network of the searched space compofa-fixed w1.2")
  # The right width searches (CompOFA's networks are OFA MobileNetV3 networks).
  hwnas_run(ok ${search} --latency "lut:${lut}" --accuracy model:acc.hwnas --json)
  hwnas_expect_ok(ok)
endfunction()

# Memoisation is on by default, as in the library: no network is scored
# twice, so a fixed-kernel search (1215 networks) makes at most 1215
# latency evaluations; --no-memoize scores every proposal, with the same
# winners.
function(hwnas_cli_case_search_memoize)
  hwnas_search_inputs()
  set(args ${search} --budget 20 --budget 30 --generations 60 --json)
  hwnas_run(m ${args})
  hwnas_expect_ok(m)
  hwnas_expect_json(m)
  hwnas_check_range("${m_json}" 1 1215 evaluations)
  hwnas_check_range("${m_json}" 1 1215 accuracy_evaluations)
  hwnas_check_range("${m_json}" 1 100000000 cache_hits)
  hwnas_run(n ${args} --no-memoize)
  hwnas_expect_ok(n)
  hwnas_expect_json(n)
  hwnas_check_range("${n_json}" 1216 100000000 evaluations)
  hwnas_check("${n_json}" 0 cache_hits)
  foreach(i 0 1)
    hwnas_get(with "${m_json}" results ${i} arch)
    hwnas_get(without "${n_json}" results ${i} arch)
    string(JSON same EQUAL "${with}" "${without}")
    if(NOT same)
      hwnas_fail("memoisation changed winner ${i}: ${with} vs ${without}")
    endif()
  endforeach()
endfunction()

# --budget takes a list like every list option: --budget 15,25 is
# --budget 15 --budget 25.
function(hwnas_cli_case_search_budget_list)
  hwnas_search_inputs()
  set(args ${search} --generations 20 --json)
  hwnas_run(a ${args} --budget 15,25)
  hwnas_expect_ok(a)
  hwnas_expect_json(a)
  hwnas_check_length("${a_json}" 2 results)
  hwnas_check("${a_json}" 15.0 results 0 budget)
  hwnas_check("${a_json}" 25.0 results 1 budget)
  hwnas_run(b ${args} --budget 15 --budget 25)
  hwnas_expect_ok(b)
  hwnas_expect_json(b)
  hwnas_get(a_results "${a_json}" results)
  hwnas_get(b_results "${b_json}" results)
  string(JSON same EQUAL "${a_results}" "${b_results}")
  if(NOT same)
    hwnas_fail("--budget 15,25 and --budget 15 --budget 25 found different winners")
  endif()
endfunction()
