# Fuzz targets of src/router (included by CMakeLists.txt).
sx_fuzz_target(storelog)
target_link_libraries(fuzz_storelog PRIVATE sx_smp_router)
sx_fuzz_target(msgjournal)
target_link_libraries(fuzz_msgjournal PRIVATE sx_smp_router)
# Seeds in corpus/smp_stats: backups as the reference writes them, in its
# current and older forms, and broken ones.
sx_fuzz_target(smp_stats)
target_link_libraries(fuzz_smp_stats PRIVATE sx_smp_router)
# Seeds in corpus/jstate: a queue's state file, NUL, its message file, as
# the reference writes them, and broken ones.
sx_fuzz_target(jstate)
target_link_libraries(fuzz_jstate PRIVATE sx_smp_router)
# Seeds in corpus/pgrows: recipient_keys (first byte even) and service_cert
# (odd) values as the reference writes them, and broken ones.
sx_fuzz_target(pgrows)
target_link_libraries(fuzz_pgrows PRIVATE sx_smp_router)
