# Runs one consumer check for CTest (cmake -P). Lists are passed with "|"
# instead of ";" because CTest splits arguments at semicolons.
#
#   -DMODE=install   -DBUILD_DIR=<hwnas build> -DPREFIX=<dir> [-DCONFIG=<cfg>]
#       fresh install of the hwnas build tree into PREFIX
#   -DMODE=consumer  -DSOURCE_DIR=<consumer> -DBINARY_DIR=<dir>
#       -DGENERATOR=<gen> [-DCONFIG=<cfg>] [-DCACHE_ARGS=-Da=b|-Dc=d]
#       [-DEXPECT=<regex>]
#       configure, build and run the consumer; its output must match EXPECT
cmake_minimum_required(VERSION 3.21)

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    string(REPLACE ";" " " cmd "${ARGN}")
    message(FATAL_ERROR "command failed (${rc}): ${cmd}\n--- stdout\n${out}\n--- stderr\n${err}")
  endif()
  set(run_output "${out}" PARENT_SCOPE)
endfunction()

set(config_args "")
if(CONFIG)
  set(config_args --config "${CONFIG}")
endif()

if(MODE STREQUAL "install")
  file(REMOVE_RECURSE "${PREFIX}")
  run("${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${PREFIX}" ${config_args})
  message(STATUS "installed ${BUILD_DIR} into ${PREFIX}")

elseif(MODE STREQUAL "consumer")
  string(REPLACE "|" ";" cache_args "${CACHE_ARGS}")
  # Start clean so a stale cache never hides a packaging regression.
  file(REMOVE_RECURSE "${BINARY_DIR}")
  run("${CMAKE_COMMAND}" -S "${SOURCE_DIR}" -B "${BINARY_DIR}" -G "${GENERATOR}"
      -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF ${cache_args})
  run("${CMAKE_COMMAND}" --build "${BINARY_DIR}" ${config_args})
  set(exe "")
  foreach(candidate IN ITEMS "${BINARY_DIR}/consumer" "${BINARY_DIR}/consumer.exe"
                             "${BINARY_DIR}/${CONFIG}/consumer" "${BINARY_DIR}/${CONFIG}/consumer.exe")
    if(EXISTS "${candidate}" AND NOT IS_DIRECTORY "${candidate}")
      set(exe "${candidate}")
      break()
    endif()
  endforeach()
  if(NOT exe)
    message(FATAL_ERROR "consumer executable not found under ${BINARY_DIR}")
  endif()
  run("${exe}")
  message(STATUS "consumer output: ${run_output}")
  if(EXPECT AND NOT run_output MATCHES "${EXPECT}")
    message(FATAL_ERROR "consumer output does not match '${EXPECT}'")
  endif()

else()
  message(FATAL_ERROR "MODE must be install or consumer, got '${MODE}'")
endif()
