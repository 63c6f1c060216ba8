# Sourced by benchmarks/run and benchmarks/soak: finds the JDK the way the build does, without
# JAVA_HOME: the newest JDK >= 21 among /usr/lib/jvm/*, /usr/java/*, /opt/java/* and
# ~/.sdkman/candidates/java/* (plus the java on PATH).

major_of() { # prints the feature version of a java binary, or nothing
  "$1" -version 2>&1 | sed -n '1s/.*version "\([0-9][0-9]*\).*/\1/p'
}

find_java() { # prints the path of the newest java >= 21, or exits naming the caller ($1)
  local best="" best_major=0 java major
  for java in /usr/lib/jvm/*/bin/java /usr/java/*/bin/java /opt/java/*/bin/java \
      "$HOME"/.sdkman/candidates/java/*/bin/java "$(command -v java || true)"; do
    [[ -x "$java" ]] || continue
    major="$(major_of "$java")"
    if [[ -n "$major" && "$major" -ge 21 && "$major" -gt "$best_major" ]]; then
      best="$java" best_major="$major"
    fi
  done
  if [[ -z "$best" ]]; then
    echo "$1: no JDK 21 or later found under /usr/lib/jvm, /usr/java, /opt/java," \
      "~/.sdkman or on PATH; install one (the build needs it too)" >&2
    exit 1
  fi
  echo "$best"
}
