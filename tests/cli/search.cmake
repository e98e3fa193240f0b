# hwnas CLI cases, search: OFA's evolutionary search on OFA's artefacts.
# Each function hwnas_cli_case_<name> is one CTest test, tools.cli.<name>;
# helpers and the driver are in cli_support.cmake.

# OFA's search on OFA's artefacts: Note10 tables and the accuracy predictor,
# CompOFA fixed-kernel w1.2; winners meet their budgets; the same seed gives
# the same winners with and without memoisation.
function(hwnas_cli_case_search)
  hwnas_data(lut note10-lut)
  hwnas_data(npy ofa-acc-predictor)
  if(NOT lut OR NOT npy)
    return()
  endif()
  hwnas_run(i import-torch --npy "${npy}" --space ofa-mbv3 --width 1.2 -o acc.hwnas)
  hwnas_expect_ok(i)
  set(args search --space compofa-fixed --width 1.2 --resolutions 160,176,192,208,224 --latency "lut:${lut}"
           --accuracy model:acc.hwnas --budget 20 --budget 30 --generations 60)
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
  hwnas_run(b ${args})
  hwnas_expect_ok(b)
  hwnas_lines(lines "${b_out}")
  list(LENGTH lines n)
  if(NOT n EQUAL 2)
    hwnas_fail("expected one spec JSON line per budget, found ${n}:\n${b_out}")
  endif()
  hwnas_run(c ${args} --memoize)
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
  hwnas_data(lut note10-lut)
  hwnas_data(npy ofa-acc-predictor)
  if(NOT lut OR NOT npy)
    return()
  endif()
  hwnas_run(n import-torch --npy "${npy}" -o none.hwnas)
  hwnas_expect_error(n "--space is required")
  hwnas_run(w import-torch --npy "${npy}" --space ofa-mbv3 -o none.hwnas)
  hwnas_expect_error(w "--width is required")
  hwnas_run(i10 import-torch --npy "${npy}" --space ofa-mbv3 --width 1.0 -o acc10.hwnas)
  hwnas_expect_ok(i10)
  hwnas_run(i12 import-torch --npy "${npy}" --space ofa-mbv3 --width 1.2 -o acc12.hwnas)
  hwnas_expect_ok(i12)
  set(search search --space compofa-fixed --width 1.2 --resolutions 160,176,192,208,224 --budget 20
                    --generations 5)
  hwnas_run(a ${search} --latency "lut:${lut}" --accuracy model:acc10.hwnas)
  hwnas_expect_error(a "search: the fitness's space ofa-mbv3 w1.0 does not hold every network of the searched space compofa-fixed w1.2 (width 1.2, not 1.0)")
  # The accuracy model standing in for a latency model of the wrong width.
  hwnas_run(l ${search} --latency model:acc10.hwnas --accuracy model:acc12.hwnas)
  hwnas_expect_error(l "search: the latency source's space ofa-mbv3 w1.0 does not hold every network of the searched space compofa-fixed w1.2")
  # The right width searches (CompOFA's networks are OFA MobileNetV3 networks).
  hwnas_run(ok ${search} --latency "lut:${lut}" --accuracy model:acc12.hwnas --json)
  hwnas_expect_ok(ok)
endfunction()
