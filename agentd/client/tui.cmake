# The agent console (tui.c on ncursesw, listed among carillon-agent's sources) and its pure
# model (tui_model.c, a library the unit test links). Included by agentd/CMakeLists.txt once
# carillon-agent is defined.
pkg_check_modules(NCURSESW REQUIRED IMPORTED_TARGET ncursesw)
add_library(carillon-agent-tui STATIC ${CMAKE_CURRENT_LIST_DIR}/tui_model.c)
target_include_directories(carillon-agent-tui PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(carillon-agent-tui PUBLIC carillon-proto)
target_link_libraries(carillon-agent PRIVATE carillon-agent-tui PkgConfig::NCURSESW)
