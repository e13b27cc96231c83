# Fails if a per-ISA object file defines any weak / unique (inline, template) symbol, i.e. any
# defined symbol other than strong text symbols. Usage: cmake -DNM=nm -DOBJECTS=a.o;b.o -P this
foreach(obj IN LISTS OBJECTS)
  execute_process(COMMAND ${NM} --defined-only -C ${obj} OUTPUT_VARIABLE out RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "nm failed on ${obj}")
  endif()
  string(REGEX MATCHALL "[^\n]* [WVu] [^\n]*" bad "${out}")
  if(bad)
    message(FATAL_ERROR "${obj} defines shared symbols compiled with ISA flags:\n${bad}")
  endif()
endforeach()
message(STATUS "checked ${OBJECTS}")
