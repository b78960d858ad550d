# kvforge_project_options: warnings and sanitizers for kvforge's own tests, examples and
# benchmarks. The kvforge target itself never carries them, so users get none of them.
add_library(kvforge_project_options INTERFACE)

set(kvforge_warning_flags "")
if(KVFORGE_WERROR)
    if(MSVC)
        set(kvforge_warning_flags /W4 /WX /permissive-)
    else()
        set(kvforge_warning_flags -Wall -Wextra -Wpedantic -Werror)
    endif()
    target_compile_options(kvforge_project_options INTERFACE ${kvforge_warning_flags})
endif()

if(KVFORGE_SANITIZE)
    set(kvforge_sanitize_flags -fsanitize=${KVFORGE_SANITIZE} -fno-sanitize-recover=all -fno-omit-frame-pointer)
    target_compile_options(kvforge_project_options INTERFACE ${kvforge_sanitize_flags})
    target_link_options(kvforge_project_options INTERFACE ${kvforge_sanitize_flags})
endif()
