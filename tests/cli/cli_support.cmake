# CTest driver (cmake -P) of the hwnas program's cases and the helpers they
# share: each case runs the program one or more times in its own scratch
# folder and checks the values it prints, not just its exit status.
#   cmake -DEXE=<hwnas> -DCASE=<name> -DCASE_FILE=<tests/cli/GROUP.cmake>
#         -DWORK=<scratch dir> -DVERSION=<x.y.z> -DDATA_DIR=<shared data dir>
#         -P cli_support.cmake
# Every function hwnas_cli_case_<name> of a tests/cli/*.cmake file (one file
# per command group) is a case; tools/CMakeLists.txt registers one test per
# case by reading those files. A case whose shared data is absent prints
# "hwnas-cli-test: skipped: ..." and passes; SKIP_REGULAR_EXPRESSION makes
# CTest report it as skipped.
#
# Arguments travel as CMake lists, where an unbalanced '[' swallows the ';'
# separators after it: inline JSON arguments keep their brackets balanced,
# and anything else goes through a file and --arch @FILE.
cmake_minimum_required(VERSION 3.21) # string(JSON)

foreach(_var IN ITEMS EXE CASE CASE_FILE WORK VERSION)
  if(NOT DEFINED ${_var})
    message(FATAL_ERROR "cli_support.cmake: -D${_var}=... is required")
  endif()
endforeach()
# The same data folder the unit tests use (tests/test_support.hpp).
if(NOT "$ENV{HWNAS_DATA_DIR}" STREQUAL "")
  set(DATA_DIR "$ENV{HWNAS_DATA_DIR}")
endif()

# The largest and smallest OFA MobileNetV3 networks (ofa-reference.md test
# vectors: 566.171 M MACs at width 1.0, 843.101 M at 1.2; 63.241 M).
set(MAX_ARCH [=[{"ks": [7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7], "e": [6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6], "d": [4, 4, 4, 4, 4], "r": [224]}]=])
set(MIN_ARCH [=[{"ks": [3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3], "e": [3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3], "d": [2, 2, 2, 2, 2], "r": [160]}]=])

# ------------------------------------------------------------- helpers ----

function(hwnas_fail message)
  message(FATAL_ERROR "[${CASE}] ${message}")
endfunction()

# hwnas_run(<prefix> <arg>...): runs the program; sets <prefix>_rc,
# <prefix>_out, <prefix>_err and <prefix>_cmd (for messages).
function(hwnas_run prefix)
  execute_process(COMMAND "${EXE}" ${ARGN}
    WORKING_DIRECTORY "${CASE_DIR}"
    RESULT_VARIABLE _rc OUTPUT_VARIABLE _out ERROR_VARIABLE _err)
  list(JOIN ARGN " " _shown)
  set(${prefix}_rc "${_rc}" PARENT_SCOPE)
  set(${prefix}_out "${_out}" PARENT_SCOPE)
  set(${prefix}_err "${_err}" PARENT_SCOPE)
  set(${prefix}_cmd "hwnas ${_shown}" PARENT_SCOPE)
endfunction()

# Program output for failure messages.
function(hwnas_shown prefix var)
  set(${var} "'${${prefix}_cmd}' (exit status ${${prefix}_rc})\n--- stdout\n${${prefix}_out}\n--- stderr\n${${prefix}_err}" PARENT_SCOPE)
endfunction()

# The run succeeded (exit status 0).
function(hwnas_expect_ok prefix)
  if(NOT "${${prefix}_rc}" STREQUAL "0")
    hwnas_shown(${prefix} _shown)
    hwnas_fail("expected success: ${_shown}")
  endif()
endfunction()

# The run failed cleanly: a non-zero exit status (not a crash, which
# execute_process reports as a text such as "Segmentation fault"), nothing
# on stdout, and stderr containing <message>.
function(hwnas_expect_error prefix message)
  hwnas_shown(${prefix} _shown)
  if(NOT "${${prefix}_rc}" MATCHES "^[0-9]+$" OR "${${prefix}_rc}" STREQUAL "0")
    hwnas_fail("expected a non-zero exit status: ${_shown}")
  endif()
  if(NOT "${${prefix}_out}" STREQUAL "")
    hwnas_fail("expected nothing on stdout (errors go to stderr): ${_shown}")
  endif()
  string(FIND "${${prefix}_err}" "${message}" _at)
  if(_at EQUAL -1)
    hwnas_fail("expected stderr to contain '${message}': ${_shown}")
  endif()
endfunction()

# Text output contains <text>.
function(hwnas_expect_contains prefix stream text)
  string(FIND "${${prefix}_${stream}}" "${text}" _at)
  if(_at EQUAL -1)
    hwnas_shown(${prefix} _shown)
    hwnas_fail("expected ${stream} to contain '${text}': ${_shown}")
  endif()
endfunction()

# stdout is exactly one JSON object; sets <prefix>_json. CMake's parser
# ignores whatever follows the first document, so "exactly one" is checked
# on the layout the program prints (json::dump(2): the object's braces are
# the only lines that start in column 0; strings never hold a raw newline).
function(hwnas_expect_json prefix)
  hwnas_shown(${prefix} _shown)
  string(STRIP "${${prefix}_out}" _out)
  string(JSON _type ERROR_VARIABLE _error TYPE "${_out}")
  if(_error OR NOT _type STREQUAL "OBJECT")
    hwnas_fail("expected one JSON object on stdout (${_error}): ${_shown}")
  endif()
  string(REGEX MATCHALL "(^|\n)[^ \n]" _top "${_out}")
  list(LENGTH _top _n_top)
  if(NOT _out MATCHES "^{" OR NOT _out MATCHES "}$" OR _n_top GREATER 2)
    hwnas_fail("expected exactly one JSON object on stdout, found more: ${_shown}")
  endif()
  set(${prefix}_json "${_out}" PARENT_SCOPE)
endfunction()

# hwnas_get(<var> <json> <path>...): the member or element at <path>.
function(hwnas_get var json)
  list(JOIN ARGN "." _path)
  string(JSON _value ERROR_VARIABLE _error GET "${json}" ${ARGN})
  if(_error)
    hwnas_fail("JSON path '${_path}' not found: ${_error}\n--- JSON\n${json}")
  endif()
  set(${var} "${_value}" PARENT_SCOPE)
endfunction()

# hwnas_check(<json> <expected> <path>...): the value at <path> equals
# <expected> as text (counts are strings; numbers as CMake prints them).
function(hwnas_check json expected)
  list(JOIN ARGN "." _path)
  hwnas_get(_value "${json}" ${ARGN})
  if(NOT _value STREQUAL expected)
    hwnas_fail("JSON '${_path}': expected '${expected}', found '${_value}'")
  endif()
endfunction()

# hwnas_check_type(<json> <TYPE> <path>...)
function(hwnas_check_type json expected)
  list(JOIN ARGN "." _path)
  string(JSON _type ERROR_VARIABLE _error TYPE "${json}" ${ARGN})
  if(_error OR NOT _type STREQUAL expected)
    hwnas_fail("JSON '${_path}': expected type ${expected}, found '${_type}' ${_error}")
  endif()
endfunction()

# hwnas_check_length(<json> <n> <path>...): the array or object has n entries.
function(hwnas_check_length json expected)
  list(JOIN ARGN "." _path)
  string(JSON _n ERROR_VARIABLE _error LENGTH "${json}" ${ARGN})
  if(_error OR NOT _n EQUAL expected)
    hwnas_fail("JSON '${_path}': expected ${expected} entries, found '${_n}' ${_error}")
  endif()
endfunction()

# hwnas_check_range(<json> <low> <high> <path>...): an integer in [low, high].
function(hwnas_check_range json low high)
  list(JOIN ARGN "." _path)
  hwnas_get(_value "${json}" ${ARGN})
  if(NOT _value MATCHES "^[0-9]+$" OR _value LESS low OR _value GREATER high)
    hwnas_fail("JSON '${_path}': expected an integer in [${low}, ${high}], found '${_value}'")
  endif()
endfunction()

# The lines of a text, without empty ones (each must keep its brackets
# balanced: see the top of this file).
function(hwnas_lines var text)
  string(REGEX MATCHALL "[^\n]+" _lines "${text}")
  set(${var} "${_lines}" PARENT_SCOPE)
endfunction()

# hwnas_nonzero_positions(<var> <json array text>): indices of its non-zero
# numbers, as a list.
function(hwnas_nonzero_positions var array)
  string(REGEX MATCHALL "-?[0-9][0-9.eE+-]*" _values "${array}")
  set(_hot "")
  set(_i 0)
  foreach(_v IN LISTS _values)
    if(NOT _v EQUAL 0)
      list(APPEND _hot ${_i})
    endif()
    math(EXPR _i "${_i} + 1")
  endforeach()
  set(${var} "${_hot}" PARENT_SCOPE)
endfunction()

# hwnas_data(<var> <path under DATA_DIR>): the full path, or "" after
# printing the skip line (the caller then returns).
function(hwnas_data var relative)
  set(path "${DATA_DIR}/${relative}")
  if(NOT EXISTS "${path}")
    message(STATUS "hwnas-cli-test: skipped: shared data '${path}' not found "
                   "(set HWNAS_DATA_DIR to point at the data folder)")
    set(path "")
  endif()
  set(${var} "${path}" PARENT_SCOPE)
endfunction()

# hwnas_to_fixed(<var> <number> <digits>): the number (JSON or plain decimal
# text) times 10^digits, truncated to an integer: CMake's math is integer
# only. Fails on anything but a finite number (JSON prints NaN as null).
function(hwnas_to_fixed var text digits)
  if(NOT text MATCHES "^(-?)([0-9]+)(\\.([0-9]*))?([eE]([-+]?)0*([0-9]*))?$")
    hwnas_fail("expected a finite number, found '${text}'")
  endif()
  set(sign "${CMAKE_MATCH_1}")
  set(mantissa "${CMAKE_MATCH_2}${CMAKE_MATCH_4}")
  string(LENGTH "${CMAKE_MATCH_4}" n_frac)
  set(exponent "${CMAKE_MATCH_7}")
  if(exponent STREQUAL "")
    set(exponent 0)
  endif()
  if(CMAKE_MATCH_6 STREQUAL "-")
    math(EXPR exponent "0 - ${exponent}")
  endif()
  math(EXPR shift "${exponent} - ${n_frac} + ${digits}")
  if(shift GREATER 0)
    string(REPEAT "0" ${shift} zeros)
    string(APPEND mantissa "${zeros}")
  elseif(shift LESS 0)
    string(LENGTH "${mantissa}" length)
    math(EXPR keep "${length} + ${shift}")
    if(keep GREATER 0)
      string(SUBSTRING "${mantissa}" 0 ${keep} mantissa)
    else()
      set(mantissa 0)
    endif()
  endif()
  string(REGEX REPLACE "^0+" "" mantissa "${mantissa}")
  string(LENGTH "${mantissa}" length)
  if(length GREATER 18)
    hwnas_fail("internal: ${text} x 10^${digits} does not fit 64 bits")
  elseif(length EQUAL 0)
    set(mantissa 0)
    set(sign "")
  endif()
  set(${var} "${sign}${mantissa}" PARENT_SCOPE)
endfunction()

# hwnas_check_near(<json> <expected> <tolerance> <path>...): |value -
# expected| <= tolerance (decimal texts; 9 decimals are compared).
function(hwnas_check_near json expected tolerance)
  list(JOIN ARGN "." _path)
  hwnas_get(value "${json}" ${ARGN})
  hwnas_to_fixed(v "${value}" 9)
  hwnas_to_fixed(e "${expected}" 9)
  hwnas_to_fixed(t "${tolerance}" 9)
  math(EXPR diff "${v} - ${e}")
  if(diff LESS 0)
    math(EXPR diff "0 - ${diff}")
  endif()
  if(diff GREATER t)
    hwnas_fail("JSON '${_path}': expected ${expected} +- ${tolerance}, found ${value}")
  endif()
endfunction()

# hwnas_check_same_number(<what> <a> <b>): equal to 1e-9 relative (compared
# on 15 decimals: the values are a few units, and 64 bits hold 18 digits).
function(hwnas_check_same_number what a b)
  if(a STREQUAL b)
    return()
  endif()
  hwnas_to_fixed(x "${a}" 15)
  hwnas_to_fixed(y "${b}" 15)
  math(EXPR diff "${x} - ${y}")
  if(diff LESS 0)
    math(EXPR diff "0 - ${diff}")
  endif()
  if(x LESS 0)
    math(EXPR x "0 - ${x}")
  endif()
  math(EXPR tolerance "${x} / 1000000000")
  if(diff GREATER tolerance)
    hwnas_fail("${what}: ${a} and ${b} differ by more than 1e-9 relative")
  endif()
endfunction()

# hwnas_check_positive(<what> <text>): a finite number > 0.
function(hwnas_check_positive what text)
  hwnas_to_fixed(v "${text}" 9)
  if(v LESS_EQUAL 0)
    hwnas_fail("${what}: expected a finite positive number, found '${text}'")
  endif()
endfunction()

# The "test" object of train, eval and finetune: every metric, a number, and
# n rows.
function(hwnas_check_test_metrics json n)
  foreach(key IN ITEMS rmse rmse_pct mae mape median_ape max_error within5 within10 kendall spearman)
    hwnas_check_type("${json}" NUMBER test ${key})
  endforeach()
  hwnas_check("${json}" ${n} test n)
  hwnas_get(rmse "${json}" test rmse)
  hwnas_check_positive("test.rmse" "${rmse}")
  # within5 and within10 are percentages, like the peers print them.
  hwnas_get(within10 "${json}" test within10)
  hwnas_to_fixed(w "${within10}" 0)
  if(w LESS 0 OR w GREATER 100)
    hwnas_fail("test.within10 = ${within10}: expected a percentage")
  endif()
endfunction()

# The fields train and finetune print besides "test".
function(hwnas_check_fit_fields json)
  hwnas_check_type("${json}" NUMBER train_s)
  hwnas_check_type("${json}" NUMBER epochs)
  hwnas_check_type("${json}" STRING stop_reason)
  hwnas_check_type("${json}" NUMBER best_epoch)
  foreach(key IN ITEMS recipe target split model)
    hwnas_check_type("${json}" STRING ${key})
  endforeach()
  foreach(key IN ITEMS n_train n_test)
    hwnas_check_type("${json}" NUMBER ${key})
  endforeach()
endfunction()

# hwnas_synthetic_csv(<file> <n> <seed>): a dataset CSV of n architectures
# (sample --seed) with two device columns, dev_a and dev_b, whose latency
# grows with the work of the active blocks and the resolution: ms =
# 1 + r^2 / 224^2 * sum(ks * e over active blocks) / 50 (dev_b: twice dev_a
# plus 0.5). Values in thousandths, written as decimals.
function(hwnas_synthetic_csv file n seed)
  hwnas_run(s sample --space ofa-mbv3 --n ${n} --seed ${seed})
  hwnas_expect_ok(s)
  hwnas_lines(lines "${s_out}")
  set(header "id")
  foreach(prefix IN ITEMS ks e)
    foreach(i RANGE 19)
      string(APPEND header ",${prefix}${i}")
    endforeach()
  endforeach()
  foreach(i RANGE 4)
    string(APPEND header ",d${i}")
  endforeach()
  set(csv "${header},r,dev_a,dev_b\n")
  set(id 0)
  foreach(line IN LISTS lines)
    foreach(key IN ITEMS ks e d r)
      string(JSON text GET "${line}" ${key})
      string(REGEX REPLACE "[][ ]" "" text "${text}")
      string(REPLACE "," ";" ${key} "${text}")
    endforeach()
    set(work 0)
    foreach(stage RANGE 4)
      list(GET d ${stage} depth)
      math(EXPR last "${depth} - 1")
      foreach(j RANGE ${last})
        math(EXPR slot "4 * ${stage} + ${j}")
        list(GET ks ${slot} k)
        list(GET e ${slot} x)
        math(EXPR work "${work} + ${k} * ${x}")
      endforeach()
    endforeach()
    math(EXPR a "1000 + ${work} * ${r} * ${r} * 20 / 50176")
    math(EXPR b "2 * ${a} + 500")
    set(row "${id}")
    foreach(list IN ITEMS ks e d r)
      string(REPLACE ";" "," values "${${list}}")
      string(APPEND row ",${values}")
    endforeach()
    foreach(v IN ITEMS a b)
      math(EXPR whole "${${v}} / 1000")
      math(EXPR frac "${${v}} % 1000 + 1000")
      string(SUBSTRING "${frac}" 1 3 frac)
      string(APPEND row ",${whole}.${frac}")
    endforeach()
    string(APPEND csv "${row}\n")
    math(EXPR id "${id} + 1")
  endforeach()
  file(WRITE "${file}" "${csv}")
endfunction()

# ----------------------------------------------------------------- main ----

include("${CASE_FILE}")
if(NOT COMMAND hwnas_cli_case_${CASE})
  message(FATAL_ERROR "cli_support.cmake: no case '${CASE}' in ${CASE_FILE}")
endif()
set(CASE_DIR "${WORK}/${CASE}")
file(REMOVE_RECURSE "${CASE_DIR}")
file(MAKE_DIRECTORY "${CASE_DIR}")
cmake_language(CALL hwnas_cli_case_${CASE})
message(STATUS "[${CASE}] passed")
