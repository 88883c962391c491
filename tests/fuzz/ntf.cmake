# Fuzz target of src/ntf (included by CMakeLists.txt). Seeds:
# tests/fuzz/gen_ntf_seeds.py writes corpus/ntf.
sx_fuzz_target(ntf)
target_link_libraries(fuzz_ntf PRIVATE sx_ntf)
