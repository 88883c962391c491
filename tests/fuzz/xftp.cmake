# Fuzz targets of src/xftp (included by CMakeLists.txt). Seeds:
# tests/fuzz/gen_xftp_seeds.py writes corpus/xftp_transmission; the
# description seeds are small YAML files written by hand.
sx_fuzz_target(xftp_transmission)
target_link_libraries(fuzz_xftp_transmission PRIVATE sx_xftp)
sx_fuzz_target(xftp_description)
target_link_libraries(fuzz_xftp_description PRIVATE sx_xftp)
