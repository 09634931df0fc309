{
  "targets": [
    {
      "target_name": "nnlock",
      "sources": [
        "src/addon.cc",
        "src/handle.cc",
        "src/convert.cc",
        "src/dispatch.cc",
        "src/runtime.cc",
        "src/jit.cc",
        "src/c10d.cc"
      ],
      "include_dirs": [
        "<!@(node -p \"require('node-addon-api').include_dir\")",
        "<!@(node find-libtorch.mjs include)",
        "shim"
      ],
      "libraries": [
        "-L<!(node find-libtorch.mjs libdir)",
        "-Wl,-rpath,<!(node find-libtorch.mjs libdir)",
        "-Wl,--no-as-needed",
        "<!@(node find-libtorch.mjs libs)"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_CPP_EXCEPTIONS",
        "NODE_ADDON_API_DISABLE_DEPRECATED",
        "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS",
        "<!@(node find-libtorch.mjs defines)"
      ],
      "cflags!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-std=gnu++20"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-frtti", "-O2", "-Wno-unused-parameter", "-Wno-deprecated-declarations"]
    }
  ]
}
