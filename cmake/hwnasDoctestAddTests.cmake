# Replacement for doctest's doctestAddTests.cmake, run by doctest_discover_tests
# after each build of the test executable (tests/CMakeLists.txt points
# doctest at it). It takes the same -D arguments.
#
# Why: doctest 2.4.9's script (Debian 12) turns the --list-test-cases output
# into a CMake list, so a case name with an unbalanced "[" (say "uniform01
# lies in [0, 1)") swallows every following name and CTest refuses the whole
# test file. Here the output is walked line by line as a plain string, every
# name is written as a bracket argument, and duplicate names (legal in
# doctest, fatal for add_test) are registered once.
cmake_minimum_required(VERSION 3.21)

if(TEST_ADD_LABELS)
  message(FATAL_ERROR "hwnasDoctestAddTests.cmake does not support ADD_LABELS")
endif()
if(NOT EXISTS "${TEST_EXECUTABLE}")
  message(FATAL_ERROR "Specified test executable '${TEST_EXECUTABLE}' does not exist")
endif()

set(spec_arg "")
if(NOT "${TEST_SPEC}" STREQUAL "")
  set(spec_arg "--test-case=${TEST_SPEC}")
endif()

execute_process(
  COMMAND ${TEST_EXECUTOR} "${TEST_EXECUTABLE}" ${spec_arg} --list-test-cases
  OUTPUT_VARIABLE output
  ERROR_VARIABLE errors
  RESULT_VARIABLE result
  WORKING_DIRECTORY "${TEST_WORKING_DIR}")
if(NOT result EQUAL 0)
  message(FATAL_ERROR "Error running test executable '${TEST_EXECUTABLE}':\n"
                      "  Result: ${result}\n  Output: ${output}\n  Errors: ${errors}\n")
endif()

# A bracket argument [=*[ ... ]=*] that cannot be closed early by the text.
function(bracket out text)
  set(eq "=")
  while(text MATCHES "\\]${eq}\\]")
    string(APPEND eq "=")
  endwhile()
  set(${out} "[${eq}[${text}]${eq}]" PARENT_SCOPE)
endfunction()

bracket(working_dir "${TEST_WORKING_DIR}")
set(property_args "")
foreach(item IN LISTS TEST_PROPERTIES)
  bracket(b "${item}")
  string(APPEND property_args " ${b}")
endforeach()
set(extra_args "")
foreach(item IN LISTS TEST_EXTRA_ARGS)
  bracket(b "${item}")
  string(APPEND extra_args " ${b}")
endforeach()
bracket(executable "${TEST_EXECUTABLE}")
set(executor "")
foreach(item IN LISTS TEST_EXECUTOR)
  bracket(b "${item}")
  string(APPEND executor " ${b}")
endforeach()

set(script "")
set(all_tests "")
set(seen "\n")  # "\n"-separated names already registered
set(count 0)
set(rest "${output}")
while(NOT "${rest}" STREQUAL "")
  string(FIND "${rest}" "\n" nl)
  if(nl EQUAL -1)
    set(line "${rest}")
    set(rest "")
  else()
    string(SUBSTRING "${rest}" 0 ${nl} line)
    math(EXPR nl "${nl} + 1")
    string(SUBSTRING "${rest}" ${nl} -1 rest)
  endif()
  string(REGEX REPLACE "\r$" "" line "${line}")
  if("${line}" STREQUAL "" OR "${line}" MATCHES "^\\[doctest\\] " OR "${line}" MATCHES "^=+$")
    continue()
  endif()
  string(FIND "${seen}" "\n${line}\n" already)
  if(NOT already EQUAL -1)
    continue()  # same name twice: --test-case=<name> runs both anyway
  endif()
  string(APPEND seen "${line}\n")

  set(name "${TEST_PREFIX}${line}${TEST_SUFFIX}")
  # doctest splits filters at commas unless escaped.
  string(REPLACE "," "\\," filter "${line}")
  bracket(name_arg "${name}")
  bracket(filter_arg "--test-case=${filter}")
  set(junit_args "")
  if(NOT "${TEST_JUNIT_OUTPUT_DIR}" STREQUAL "")
    string(REGEX REPLACE "[/\\:\"|<>*? ]" "-" file_name "${name}")
    bracket(b "--out=${TEST_JUNIT_OUTPUT_DIR}/${file_name}.xml")
    set(junit_args " --reporters=junit ${b}")
  endif()
  string(APPEND script
    "add_test(${name_arg}${executor} ${executable} ${filter_arg}${junit_args}${extra_args})\n"
    "set_tests_properties(${name_arg} PROPERTIES WORKING_DIRECTORY ${working_dir}${property_args})\n")
  string(APPEND all_tests " ${name_arg}")
  math(EXPR count "${count} + 1")
endwhile()

if(count EQUAL 0)
  message(WARNING "${TEST_EXECUTABLE} lists no test cases")
endif()
string(APPEND script "set(${TEST_LIST}${all_tests})\n")
file(WRITE "${CTEST_FILE}" "${script}")
