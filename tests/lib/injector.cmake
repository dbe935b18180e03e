# The dialer's test helpers: cr-injector (plays carillon-server on the dialer link for
# tests/integration/dialer_*.sh), and the dialer's unit tests linked with its core library.
add_executable(cr-injector ${CMAKE_CURRENT_SOURCE_DIR}/lib/injector.c)
target_link_libraries(cr-injector PRIVATE carillon-common)
set_target_properties(cr-injector PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bin)

file(GLOB DIALER_UNIT_TESTS CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_dialer_*.c)
foreach(src IN LISTS DIALER_UNIT_TESTS)
  get_filename_component(stem ${src} NAME_WE)
  string(REGEX REPLACE "^test_" "" name ${stem})
  target_link_libraries(${stem} PRIVATE carillon-dialer-core)
  set_tests_properties(unit.${name} PROPERTIES LABELS "unit;dialer")
endforeach()
# The integration test starts these programs itself.
foreach(t IN ITEMS integration.dialer_outcomes)
  if(TEST ${t})
    set_tests_properties(${t} PROPERTIES TIMEOUT 300)
  endif()
endforeach()

# A SIP trunk over TLS for integration.dialer_tls (Debian's SIPp has no TLS).
add_executable(cr-sip-tls-uas ${CMAKE_CURRENT_SOURCE_DIR}/lib/sip_tls_uas.c)
target_link_libraries(cr-sip-tls-uas PRIVATE PkgConfig::SOFIA)
set_target_properties(cr-sip-tls-uas PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bin)

# An RTP receiver standing in for a softphone's media (integration.dialer_bridge).
add_executable(cr-rtp-sink ${CMAKE_CURRENT_SOURCE_DIR}/lib/rtp_sink.c)
target_link_libraries(cr-rtp-sink PRIVATE carillon-common)
set_target_properties(cr-rtp-sink PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bin)
