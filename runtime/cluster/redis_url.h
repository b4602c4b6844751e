// redis_url.h — RedisUrl: where a broker or result backend lives. This file
// is private to the runtime.
//
// The form kombu and redis-py accept for a plain TCP server:
//   redis://[[user]:password@]HOST[:PORT][/DB]
// (PORT defaults to 6379, DB to 0). Anything else — another scheme, a port
// out of range, a database that is not a number — is an error that quotes
// the URL, so "redis down at start" and "typo in --broker" read differently.
#pragma once

#include <string>

namespace gilrun::cluster {

struct RedisUrl {
  std::string text;      // as given, for messages (the password hidden)
  std::string host;
  int port = 6379;
  int db = 0;
  std::string password;  // empty: no AUTH
};

// parse_redis_url() fills *out, or returns false with *error set.
bool parse_redis_url(const std::string& url, RedisUrl* out, std::string* error);

}  // namespace gilrun::cluster
