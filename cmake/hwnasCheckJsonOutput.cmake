# CTest helper (cmake -P): runs EXE with the "|"-separated ARGS, requires exit
# status 0 and a standard output that parses as a JSON object (the program's
# --json contract; cmake/hwnasCheckCli.cmake checks the values).
#   cmake -DEXE=<program> -DARGS=info|--json -P hwnasCheckJsonOutput.cmake
cmake_minimum_required(VERSION 3.21) # string(JSON)

string(REPLACE "|" ";" args "${ARGS}")
execute_process(COMMAND "${EXE}" ${args}
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
string(REPLACE ";" " " shown "${args}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "'${EXE} ${shown}' exited with ${rc}\n--- stdout\n${out}\n--- stderr\n${err}")
endif()
string(STRIP "${out}" out)
string(JSON type ERROR_VARIABLE json_error TYPE "${out}")
if(json_error OR NOT type STREQUAL "OBJECT")
  message(FATAL_ERROR "'${EXE} ${shown}' did not print a JSON object: "
                      "${json_error}\n--- stdout\n${out}")
endif()
message(STATUS "'${EXE} ${shown}' printed valid JSON (${type})")
