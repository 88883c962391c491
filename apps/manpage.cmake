# Writes a man page from a program's --help (run at build time by
# apps/CMakeLists.txt): cmake -DPROGRAM=<path> -DNAME=<name> -DSUMMARY=<text>
# -DOUT=<file> -P manpage.cmake. The help text is the page's description,
# as written, so the two cannot differ.
execute_process(COMMAND "${PROGRAM}" --help OUTPUT_VARIABLE help RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${PROGRAM} --help exited with ${rc}")
endif()
string(REGEX MATCH "^[^\n]*" version "${help}")
# roff: a backslash is written \e; a line that starts with . or ' is
# escaped with \&.
string(REPLACE "\\" "\\e" help "${help}")
string(REGEX REPLACE "(^|\n)([.'])" "\\1\\\\&\\2" help "${help}")
string(TOUPPER "${NAME}" upper)
file(WRITE "${OUT}" ".TH ${upper} 1 \"\" \"${version}\" \"SimpleX\"\n"
                    ".SH NAME\n${NAME} \\- ${SUMMARY}\n"
                    ".SH DESCRIPTION\n.nf\n${help}.fi\n"
                    ".SH SEE ALSO\nThe operators' guide, OPERATORS.md, in the documentation folder.\n")
