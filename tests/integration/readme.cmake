# Every example of README.md, taken from the file and run as written against
# the built programs (test_readme.py says what it substitutes; included by
# CMakeLists.txt).
set(sx_readme_cflags "")
if(SX_SANITIZE)
  set(sx_readme_cflags "-fsanitize=address,undefined -fno-sanitize-recover=all")
endif()
add_test(NAME integration.readme
         COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/test_readme.py ${PROJECT_SOURCE_DIR}
                 ${PROJECT_BINARY_DIR} "${sx_readme_cflags}")
set_tests_properties(integration.readme PROPERTIES TIMEOUT 180)
