// handles.h — the two names of the codec's handle protocol (value_codec.cpp,
// "Handles"), written once for the codec that reads them (encode.cpp,
// decode.cpp) and the bindings that provide them (bindings/process/queue.cpp).
// This file is private to the runtime and the bindings.
#pragma once

namespace gilrun {

// The metafield of a userdata that crosses as a HANDLE: a C function that
// returns the userdata's token (or nil and a reason).
inline constexpr const char* kHandleMetafield = "__gilrun_handle";
// The registry key of a state's handle opener: a function that takes a token
// and returns the value (or nil and a reason).
inline constexpr const char* kHandleOpenerKey = "gilrun.handle_opener";

}  // namespace gilrun
