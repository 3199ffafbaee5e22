# CMake toolchain for the node's Cortex-M3 image: Debian's gcc-arm-none-eabi with newlib
# (libnewlib-arm-none-eabi). Use with -DCMAKE_TOOLCHAIN_FILE=firmware/cmake/arm-none-eabi.cmake.
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR arm)

set(CMAKE_C_COMPILER arm-none-eabi-gcc)
set(CMAKE_ASM_COMPILER arm-none-eabi-gcc)
find_program(PG_ARM_SIZE arm-none-eabi-size REQUIRED)
find_program(PG_ARM_OBJCOPY arm-none-eabi-objcopy REQUIRED)

# No operating system: test the compiler by building a library, not by linking a program.
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)

set(CMAKE_C_FLAGS_INIT "-mcpu=cortex-m3 -mthumb -ffunction-sections -fdata-sections")
# newlib-nano for the few libc functions used (memcpy, memset, strcmp...); no C runtime
# start files, because startup.c is the reset handler; unused sections dropped.
set(CMAKE_EXE_LINKER_FLAGS_INIT "-nostartfiles --specs=nano.specs -Wl,--gc-sections")

set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
