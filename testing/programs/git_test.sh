#!/usr/bin/env bash
# git under lite_malloc: a generated repository of 300 files and 30 commits
# (fixed names and dates, so every hash is the same in both runs), then log,
# diff, blame, grep, gc (threaded delta compression) and fsck.
source testing/programs/programs_lib.sh
need git git
export GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_NAME=lite GIT_AUTHOR_EMAIL=lite@example.invalid \
  GIT_COMMITTER_NAME=lite GIT_COMMITTER_EMAIL=lite@example.invalid

# Writes the files that commit C changes: all 300 in the first, a tenth after.
write_files() {
  awk -v c="$1" 'BEGIN {
    for (f = 1; f <= 300; f++) {
      if (c > 1 && (f * 7 + c) % 10 != 0) continue
      path = "dir" (f % 12) "/file" f ".txt"
      for (l = 0; l < 40 + f % 60; l++)
        printf "file %d line %d rev %d %s\n", f, l, (l % 5 ? 1 : c),
          substr("lorem ipsum dolor sit amet", 1 + l % 20) > path
      close(path)
    }
  }'
}

git_work() {
  local repo="$1"
  rm -rf "$repo"
  git init -q -b main "$repo"
  cd "$repo"
  git config pack.threads 2
  mkdir -p dir{0..11}
  for commit in $(seq 1 30); do
    write_files "$commit"
    git add -A
    GIT_AUTHOR_DATE="2020-01-$((commit % 28 + 1))T12:00:00Z" \
      GIT_COMMITTER_DATE="2020-01-$((commit % 28 + 1))T12:00:00Z" \
      git commit -q -m "commit $commit"
  done
  git log --stat --format='%H %s' | md5sum
  git diff --stat HEAD~20 HEAD | tail -1
  git blame -s dir3/file3.txt | md5sum
  git grep -c "rev 29" | wc -l
  git gc -q --aggressive
  git count-objects -v | grep -E '^(count|in-pack|packs)'
  git fsck --full --strict
  git rev-parse HEAD
}
same_output git -- git_work "$SCRATCH/repo"
echo PASSED
