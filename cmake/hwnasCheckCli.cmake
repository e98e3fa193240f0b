# CTest driver (cmake -P) for the hwnas program: each CASE runs the program
# one or more times in its own scratch folder and checks the values it
# prints, not just its exit status.
#   cmake -DEXE=<hwnas> -DCASE=<name> -DWORK=<scratch dir> -DVERSION=<x.y.z>
#         -DDATA_DIR=<shared data dir> -P hwnasCheckCli.cmake
# Every function named hwnas_cli_case_<name> below is a case; tools/
# CMakeLists.txt registers one test per case by reading this file. A case
# whose shared data is absent prints "hwnas-cli-test: skipped: ..." and
# passes; SKIP_REGULAR_EXPRESSION makes CTest report it as skipped.
#
# Arguments travel as CMake lists, where an unbalanced '[' swallows the ';'
# separators after it: inline JSON arguments keep their brackets balanced,
# and anything else goes through a file and --arch @FILE.
cmake_minimum_required(VERSION 3.21) # string(JSON)

foreach(_var IN ITEMS EXE CASE WORK VERSION)
  if(NOT DEFINED ${_var})
    message(FATAL_ERROR "hwnasCheckCli.cmake: -D${_var}=... is required")
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

# ---------------------------------------------------------------- count ----

function(hwnas_cli_case_count_compofa_fixed)
  hwnas_run(r count --space compofa-fixed --json)
  hwnas_expect_ok(r)
  hwnas_expect_json(r)
  hwnas_check_type("${r_json}" STRING per_resolution) # counts overflow 64 bits
  hwnas_check("${r_json}" 243 per_resolution)         # 3^5: one depth choice per stage
  hwnas_check("${r_json}" 25 resolutions)
  hwnas_check("${r_json}" 6075 total)
  hwnas_check("${r_json}" compofa-fixed space name)
  hwnas_check_length("${r_json}" 25 space resolutions)

  hwnas_run(t count --space compofa-fixed)
  hwnas_expect_ok(t)
  hwnas_expect_contains(t out "243 architectures per resolution x 25 resolutions = 6075")
endfunction()

function(hwnas_cli_case_count_search_resolutions)
  hwnas_run(r count --space compofa-fixed --resolutions 160,176,192,208,224 --json)
  hwnas_expect_ok(r)
  hwnas_expect_json(r)
  hwnas_check("${r_json}" 243 per_resolution)
  hwnas_check("${r_json}" 5 resolutions)
  hwnas_check("${r_json}" 1215 total)
  hwnas_check("${r_json}" 208 space resolutions 3)
endfunction()

function(hwnas_cli_case_count_ofa_mbv3)
  hwnas_run(r count --space ofa-mbv3 --json)
  hwnas_expect_ok(r)
  hwnas_expect_json(r)
  hwnas_check("${r_json}" 21758655492572485851 per_resolution) # 7371^5
  hwnas_check("${r_json}" 543966387314312146275 total)         # x 25
  hwnas_check("${r_json}" 20 space slots)
  hwnas_check("${r_json}" 5 space stages)
endfunction()

function(hwnas_cli_case_count_compofa_elastic)
  hwnas_run(r count --space compofa-elastic --json)
  hwnas_expect_ok(r)
  hwnas_expect_json(r)
  hwnas_check("${r_json}" 21924480357 per_resolution) # (3^2 + 3^3 + 3^4)^5
  hwnas_check("${r_json}" 548112008925 total)
endfunction()

# ----------------------------------------------------------------- macs ----

function(hwnas_cli_case_macs_max)
  hwnas_run(r macs --space ofa-mbv3 --arch "${MAX_ARCH}" --json)
  hwnas_expect_ok(r)
  hwnas_expect_json(r)
  hwnas_check("${r_json}" ofa-mbv3 space)
  hwnas_check_length("${r_json}" 1 results)
  hwnas_check_range("${r_json}" 566170500 566171500 results 0 macs) # 566.171 M
  hwnas_check("${r_json}" 224 results 0 arch r 0)
  hwnas_check("${r_json}" 7 results 0 arch ks 19)

  hwnas_run(t macs --space ofa-mbv3 --arch "${MAX_ARCH}")
  hwnas_expect_ok(t)
  hwnas_expect_contains(t out "566.171 M MACs")
endfunction()

function(hwnas_cli_case_macs_max_width_1_2)
  hwnas_run(r macs --space ofa-mbv3 --width 1.2 --arch "${MAX_ARCH}" --json)
  hwnas_expect_ok(r)
  hwnas_expect_json(r)
  hwnas_check_range("${r_json}" 843100500 843101500 results 0 macs) # 843.101 M
endfunction()

function(hwnas_cli_case_macs_min)
  hwnas_run(r macs --space ofa-mbv3 --arch "${MIN_ARCH}" --json)
  hwnas_expect_ok(r)
  hwnas_expect_json(r)
  hwnas_check_range("${r_json}" 63240500 63241500 results 0 macs) # 63.241 M
endfunction()

# Both networks from one JSON-lines file, with the layer list: the layers'
# MACs add up to the network's.
function(hwnas_cli_case_macs_file_layers)
  file(WRITE "${CASE_DIR}/archs.jsonl" "${MAX_ARCH}\n${MIN_ARCH}\n")
  hwnas_run(r macs --space ofa-mbv3 --arch @archs.jsonl --layers --json)
  hwnas_expect_ok(r)
  hwnas_expect_json(r)
  hwnas_check_length("${r_json}" 2 results)
  hwnas_check_range("${r_json}" 566170500 566171500 results 0 macs)
  hwnas_check_range("${r_json}" 63240500 63241500 results 1 macs)
  # stem, first block, 20 blocks, final expand, pool, feature mix, classifier
  hwnas_check_length("${r_json}" 26 results 0 layers)
  hwnas_check("${r_json}" first_conv results 0 layers 0 kind)
  hwnas_check("${r_json}" classifier results 0 layers 25 kind)
  hwnas_get(macs "${r_json}" results 0 macs)
  set(sum 0)
  foreach(i RANGE 25)
    hwnas_get(layer_macs "${r_json}" results 0 layers ${i} macs)
    math(EXPR sum "${sum} + ${layer_macs}")
  endforeach()
  if(NOT sum EQUAL macs)
    hwnas_fail("the layers' MACs add up to ${sum}, the network has ${macs}")
  endif()
  # 10 blocks run in the smallest network.
  hwnas_check_length("${r_json}" 16 results 1 layers)
endfunction()

# --------------------------------------------------------------- sample ----

function(hwnas_cli_case_sample_lines)
  hwnas_run(a sample --space ofa-mbv3 --n 5 --seed 3)
  hwnas_expect_ok(a)
  hwnas_lines(lines "${a_out}")
  list(LENGTH lines n)
  if(NOT n EQUAL 5 OR NOT a_out MATCHES "\n$")
    hwnas_fail("expected 5 lines, found ${n}:\n${a_out}")
  endif()
  foreach(line IN LISTS lines)
    string(JSON type ERROR_VARIABLE error TYPE "${line}")
    if(error OR NOT type STREQUAL "OBJECT")
      hwnas_fail("not a JSON object: '${line}'")
    endif()
    hwnas_check_length("${line}" 4)
    hwnas_check_length("${line}" 20 ks)
    hwnas_check_length("${line}" 20 e)
    hwnas_check_length("${line}" 5 d)
    hwnas_check_length("${line}" 1 r)
  endforeach()

  hwnas_run(b sample --space ofa-mbv3 --n 5 --seed 3)
  hwnas_expect_ok(b)
  if(NOT a_out STREQUAL b_out)
    hwnas_fail("the same seed gave different samples:\n${a_out}\n---\n${b_out}")
  endif()
  hwnas_run(c sample --space ofa-mbv3 --n 5 --seed 4)
  hwnas_expect_ok(c)
  if(a_out STREQUAL c_out)
    hwnas_fail("seeds 3 and 4 gave the same samples:\n${a_out}")
  endif()
endfunction()

# --json holds the same architectures as the lines.
function(hwnas_cli_case_sample_json)
  hwnas_run(t sample --space ofa-mbv3 --n 5 --seed 3)
  hwnas_expect_ok(t)
  hwnas_lines(lines "${t_out}")
  hwnas_run(r sample --space ofa-mbv3 --n 5 --seed 3 --json)
  hwnas_expect_ok(r)
  hwnas_expect_json(r)
  hwnas_check_length("${r_json}" 5 archs)
  hwnas_check("${r_json}" 3 seed)
  foreach(i RANGE 4)
    list(GET lines ${i} line)
    foreach(key IN ITEMS ks e d r)
      hwnas_get(want "${line}" ${key})
      hwnas_check("${r_json}" "${want}" archs ${i} ${key})
    endforeach()
  endforeach()
endfunction()

# ------------------------------------------------------------- validate ----

function(hwnas_cli_case_validate_sample)
  hwnas_run(s sample --space ofa-mbv3 --n 5 --seed 3)
  hwnas_expect_ok(s)
  file(WRITE "${CASE_DIR}/sample.jsonl" "${s_out}")
  hwnas_run(t validate --space ofa-mbv3 sample.jsonl)
  hwnas_expect_ok(t)
  hwnas_expect_contains(t out "5 valid, 0 invalid")
  hwnas_run(r validate --space ofa-mbv3 sample.jsonl --json)
  hwnas_expect_ok(r)
  hwnas_expect_json(r)
  hwnas_check("${r_json}" 5 valid)
  hwnas_check("${r_json}" 0 invalid)
  hwnas_check_length("${r_json}" 0 errors)
  # The same networks are not all valid in a space with fixed kernels.
  hwnas_run(f validate --space compofa-fixed sample.jsonl --json)
  hwnas_expect_json(f)
  hwnas_check("${f_json}" 5 invalid)
  if(f_rc EQUAL 0)
    hwnas_fail("validate exited 0 with invalid architectures")
  endif()
endfunction()

# One bad architecture among good ones: a non-zero exit status, and with
# --json still one object that names the problem.
function(hwnas_cli_case_validate_bad_arch)
  hwnas_run(s sample --space ofa-mbv3 --n 4 --seed 3)
  hwnas_expect_ok(s)
  # The largest network with ks[4] = 4.
  string(REGEX REPLACE [=[^({"ks": \[7, 7, 7, 7, )7]=] [=[\14]=] bad "${MAX_ARCH}")
  file(WRITE "${CASE_DIR}/archs.jsonl" "${s_out}${bad}\n")

  hwnas_run(r validate --space ofa-mbv3 archs.jsonl --json)
  hwnas_expect_json(r)
  if(NOT r_rc MATCHES "^[1-9][0-9]*$")
    hwnas_shown(r shown)
    hwnas_fail("expected a non-zero exit status: ${shown}")
  endif()
  hwnas_check("${r_json}" 4 valid)
  hwnas_check("${r_json}" 1 invalid)
  hwnas_check_length("${r_json}" 1 errors)
  hwnas_check("${r_json}" 4 errors 0 index)
  hwnas_get(message "${r_json}" errors 0 message)
  string(FIND "${message}" "ks[4] = 4" at)
  if(at EQUAL -1)
    hwnas_fail("expected the message to name ks[4] = 4, found '${message}'")
  endif()

  hwnas_run(t validate --space ofa-mbv3 archs.jsonl)
  if(t_rc EQUAL 0)
    hwnas_fail("validate exited 0 with an invalid architecture")
  endif()
  hwnas_expect_contains(t out "4 valid, 1 invalid")
  hwnas_expect_contains(t err "architecture 4: ofa-mbv3: ks[4] = 4")
endfunction()

# The 5000 architectures of HELP's OFA latency table all lie in ofa-mbv3.
function(hwnas_cli_case_validate_dataset_csv)
  set(csv "${DATA_DIR}/help-ofa/ofa_gpu_latency.csv")
  if(NOT EXISTS "${csv}")
    message(STATUS "hwnas-cli-test: skipped: shared data '${csv}' not found "
                   "(set HWNAS_DATA_DIR to point at the data folder)")
    return()
  endif()
  hwnas_run(r validate --space ofa-mbv3 "${csv}" --json)
  hwnas_expect_ok(r)
  hwnas_expect_json(r)
  hwnas_check("${r_json}" 5000 valid)
  hwnas_check("${r_json}" 0 invalid)
  hwnas_check_length("${r_json}" 0 errors)
endfunction()

# --------------------------------------------------------------- encode ----

# The method's 128-d encoding of the largest network: kernel 7 (third of
# {3,5,7}) and expand 6 (third of {3,4,6}) in all 20 slots, resolution 224 in
# the last of the 8 bins: 41 ones. The smallest network keeps 10 slots and
# has 160 in bin (160 - 112) / 16 = 3.
function(hwnas_cli_case_encode_bins8)
  file(WRITE "${CASE_DIR}/archs.jsonl" "${MAX_ARCH}\n${MIN_ARCH}\n")
  hwnas_run(r encode --space ofa-mbv3 --arch @archs.jsonl --json)
  hwnas_expect_ok(r)
  hwnas_expect_json(r)
  hwnas_check("${r_json}" 128 dim)
  hwnas_check("${r_json}" bins8 encoding)
  hwnas_check_length("${r_json}" 2 encodings)
  hwnas_check_length("${r_json}" 128 encodings 0)
  foreach(i IN ITEMS 2 62 127)
    hwnas_check("${r_json}" 1.0 encodings 0 ${i})
  endforeach()

  set(max_hot "")
  set(min_hot "")
  foreach(slot RANGE 19)
    math(EXPR k "3 * ${slot} + 2")
    list(APPEND max_hot ${k})
  endforeach()
  foreach(slot RANGE 19)
    math(EXPR e "60 + 3 * ${slot} + 2")
    list(APPEND max_hot ${e})
  endforeach()
  list(APPEND max_hot 127)
  foreach(base IN ITEMS 0 60)
    foreach(slot IN ITEMS 0 1 4 5 8 9 12 13 16 17)
      math(EXPR p "${base} + 3 * ${slot}")
      list(APPEND min_hot ${p})
    endforeach()
  endforeach()
  list(APPEND min_hot 123)

  foreach(row IN ITEMS 0 1)
    hwnas_get(values "${r_json}" encodings ${row})
    hwnas_nonzero_positions(hot "${values}")
    set(want "${max_hot}")
    if(row EQUAL 1)
      set(want "${min_hot}")
    endif()
    if(NOT hot STREQUAL want)
      hwnas_fail("encodings ${row}: expected ones at ${want}\nfound non-zeros at ${hot}")
    endif()
  endforeach()
  list(LENGTH max_hot n_max)
  if(NOT n_max EQUAL 41)
    hwnas_fail("internal: expected 41 ones for the largest network, listed ${n_max}")
  endif()

  # Text output: one CSV row of 128 values per architecture.
  hwnas_run(t encode --space ofa-mbv3 --arch "${MAX_ARCH}")
  hwnas_expect_ok(t)
  string(STRIP "${t_out}" row)
  string(REPLACE "," ";" values "${row}")
  list(LENGTH values n)
  if(NOT n EQUAL 128)
    hwnas_fail("expected 128 comma-separated values, found ${n}: ${row}")
  endif()
endfunction()

# One bit per resolution of the space (25): 224 is the last.
function(hwnas_cli_case_encode_one_hot)
  hwnas_run(r encode --space ofa-mbv3 --arch "${MAX_ARCH}" --encoding one-hot --json)
  hwnas_expect_ok(r)
  hwnas_expect_json(r)
  hwnas_check("${r_json}" 145 dim)
  hwnas_check("${r_json}" one-hot encoding)
  hwnas_get(values "${r_json}" encodings 0)
  hwnas_nonzero_positions(hot "${values}")
  list(LENGTH hot n)
  list(GET hot -1 last)
  if(NOT n EQUAL 41 OR NOT last EQUAL 144)
    hwnas_fail("expected 41 ones, the last at 144; found non-zeros at ${hot}")
  endif()
endfunction()

# Hardware features are appended after the 128 architecture features.
function(hwnas_cli_case_encode_hardware)
  file(WRITE "${CASE_DIR}/max.json" "${MAX_ARCH}\n")
  hwnas_run(r encode --space ofa-mbv3 --arch @max.json --hardware 1,2,3 --json)
  hwnas_expect_ok(r)
  hwnas_expect_json(r)
  hwnas_check("${r_json}" 131 dim)
  hwnas_check_length("${r_json}" 131 encodings 0)
  hwnas_check("${r_json}" 1.0 encodings 0 127)
  hwnas_check("${r_json}" 1.0 encodings 0 128)
  hwnas_check("${r_json}" 2.0 encodings 0 129)
  hwnas_check("${r_json}" 3.0 encodings 0 130)
endfunction()

# ---------------------------------------------------- info, quickstart ----

function(hwnas_cli_case_info)
  hwnas_run(r info --json)
  hwnas_expect_ok(r)
  hwnas_expect_json(r)
  hwnas_check("${r_json}" "${VERSION}" version)
  hwnas_check_length("${r_json}" 4 spaces)
  hwnas_check("${r_json}" ofa-mbv3 spaces 0 name)
  hwnas_check("${r_json}" 21758655492572485851 spaces 0 per_resolution)
  hwnas_check("${r_json}" ofa-proxyless spaces 3 name)
  hwnas_check("${r_json}" 21 spaces 3 slots)
  hwnas_check_length("${r_json}" 4 resolution_encodings)

  hwnas_run(t info)
  hwnas_expect_ok(t)
  hwnas_expect_contains(t out "hwnas ${VERSION} ")
  hwnas_run(v --version)
  hwnas_expect_ok(v)
  hwnas_expect_contains(v out "${VERSION}")
endfunction()

# Every preset at its published widths: ofa-mbv3, compofa-fixed and
# compofa-elastic at 1.0 and 1.2, ofa-proxyless at 1.3.
function(hwnas_cli_case_quickstart)
  hwnas_run(r quickstart --json)
  hwnas_expect_ok(r)
  hwnas_expect_json(r)
  hwnas_check("${r_json}" "${VERSION}" version)
  hwnas_check_length("${r_json}" 7 spaces)
  hwnas_check("${r_json}" ofa-mbv3 spaces 0 space)
  hwnas_check("${r_json}" 128 spaces 0 encoding_dim)
  hwnas_check("${r_json}" 1.2 spaces 1 width)
  hwnas_check("${r_json}" ofa-proxyless spaces 6 space)
  hwnas_check("${r_json}" 1.3 spaces 6 width)
  foreach(i RANGE 6)
    hwnas_check_length("${r_json}" 3 spaces ${i} samples)
  endforeach()
  # Deterministic for a seed.
  hwnas_run(again quickstart --json)
  if(NOT again_out STREQUAL r_out)
    hwnas_fail("two quickstart runs with the default seed differ")
  endif()
endfunction()

# --------------------------------------------------------------- errors ----

function(hwnas_cli_case_error_unknown_space)
  hwnas_run(r count --space resnet)
  hwnas_expect_error(r "unknown preset 'resnet'")
  hwnas_run(j count --space resnet --json)
  hwnas_expect_error(j "unknown preset 'resnet'")
endfunction()

function(hwnas_cli_case_error_malformed_json)
  # Truncated JSON goes through a file: its '[' is unbalanced.
  file(WRITE "${CASE_DIR}/truncated.json" [=[{"ks": [3,]=])
  hwnas_run(r macs --space ofa-mbv3 --arch @truncated.json --json)
  hwnas_expect_error(r "malformed JSON")
  hwnas_expect_contains(r err "truncated.json:1:")
  hwnas_run(i macs --space ofa-mbv3 --arch [=[{"ks": [3, 5] "e": [3]}]=])
  hwnas_expect_error(i "--arch:1:")
  hwnas_expect_contains(i err "malformed JSON")
endfunction()

function(hwnas_cli_case_error_wrong_length)
  string(REPLACE "[7, 7, " "[7, " short "${MAX_ARCH}") # ks loses one entry
  hwnas_run(r macs --space ofa-mbv3 --arch "${short}")
  hwnas_expect_error(r "ks has 19 entries, expected 20")
  hwnas_run(e encode --space ofa-mbv3 --arch "${short}" --json)
  hwnas_expect_error(e "ks has 19 entries, expected 20")
endfunction()

function(hwnas_cli_case_error_bad_arch_value)
  string(REPLACE [=["r": [224]]=] [=["r": [100]]=] small "${MAX_ARCH}")
  hwnas_run(r macs --space ofa-mbv3 --arch "${small}" --json)
  hwnas_expect_error(r "r = 100 not in allowed set")
  hwnas_run(u macs --space ofa-mbv3 --arch [=[{"ks": [3], "e": [3], "d": [2], "r": [160], "x": 1}]=])
  hwnas_expect_error(u "unknown field 'x'")
endfunction()

function(hwnas_cli_case_error_missing_file)
  hwnas_run(r validate --space ofa-mbv3 "${CASE_DIR}/nonexistent.json")
  hwnas_expect_error(r "cannot open")
  hwnas_run(j validate --space ofa-mbv3 "${CASE_DIR}/nonexistent.json" --json)
  hwnas_expect_error(j "cannot open")
  hwnas_run(m macs --space ofa-mbv3 "--arch=@${CASE_DIR}/nonexistent.json")
  hwnas_expect_error(m "cannot open")
endfunction()

function(hwnas_cli_case_error_usage)
  hwnas_run(u frobnicate)
  hwnas_expect_error(u "")
  hwnas_run(n)
  hwnas_expect_error(n "subcommand")
  hwnas_run(a macs --space ofa-mbv3 --json) # --arch is required
  hwnas_expect_error(a "--arch")
  hwnas_run(e encode --space ofa-mbv3 --arch "${MAX_ARCH}" --encoding bins9)
  hwnas_expect_error(e "unknown resolution encoding 'bins9'")
  # CLI11 would read -1 into the unsigned count as 2^64 - 1 and sample forever.
  hwnas_run(c sample --space ofa-mbv3 --n -1)
  hwnas_expect_error(c "must not be negative")
  hwnas_run(w count --space ofa-mbv3 --width 0)
  hwnas_expect_error(w "width must be in (0, 16], found 0")
endfunction()

# ----------------------------------------------------------------- main ----

if(NOT COMMAND hwnas_cli_case_${CASE})
  message(FATAL_ERROR "hwnasCheckCli.cmake: unknown CASE '${CASE}'")
endif()
set(CASE_DIR "${WORK}/${CASE}")
file(REMOVE_RECURSE "${CASE_DIR}")
file(MAKE_DIRECTORY "${CASE_DIR}")
cmake_language(CALL hwnas_cli_case_${CASE})
message(STATUS "[${CASE}] passed")
