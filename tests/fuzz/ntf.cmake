# Fuzz target of src/ntf (included by CMakeLists.txt). Seeds:
# tests/fuzz/gen_ntf_seeds.py writes corpus/ntf.
sx_fuzz_target(ntf)
target_link_libraries(fuzz_ntf PRIVATE sx_ntf)
# Lines of the NTF store log; seeds by gen_ntf_seeds.py into corpus/ntf_storelog.
sx_fuzz_target(ntf_storelog)
target_link_libraries(fuzz_ntf_storelog PRIVATE sx_ntf_router)
# APNS error bodies and provider tokens (src/ntf_router/apns_wire.h); seeds
# in corpus/ntf_apns (first byte: 1 a body, 0 a token).
sx_fuzz_target(ntf_apns)
target_link_libraries(fuzz_ntf_apns PRIVATE sx_ntf_router)
# The statistics backup (src/ntf_router/stats.h); seeds in corpus/ntf_stats:
# as the reference writes it, an older form, broken ones.
sx_fuzz_target(ntf_stats)
target_link_libraries(fuzz_ntf_stats PRIVATE sx_ntf_router)
