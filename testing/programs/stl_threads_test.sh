#!/usr/bin/env bash
# A C++ program using the STL across threads, under lite_malloc.
source testing/programs/programs_lib.sh
same_output stl_threads -- testing/programs/stl_threads
echo PASSED
