package org.picos.std.sync;

import static org.picos.modelcheck.ModelCheck.expect;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.picos.modelcheck.ModelCheck;

/**
 * {@link Pick}, the commit point of channel operations and selects, under the model checker:
 * exactly one party completes a pick, a two-sided commit completes both picks or neither and
 * leaves nothing claimed, and two-sided commits that claim the same two picks in opposite
 * argument order never wait on each other forever.
 */
@Tag("lincheck")
class PickLincheckTest {
  static final class Picks {
    final Pick a = new Pick(null);
    final Pick b = new Pick(null);
    final Pick c = new Pick(null);
    volatile boolean firstWon;
    volatile boolean secondWon;
    volatile boolean thirdWon;
  }

  /** Claims both picks and, if that worked, completes both with {@code value}. */
  private static boolean commitBoth(Pick x, Pick y, Object value) {
    if (!Pick.claimBoth(x, y)) {
      return false;
    }
    x.publish(null, value);
    y.publish(null, value);
    x.trigger.signal();
    y.trigger.signal();
    return true;
  }

  private static void expectDoneWith(Pick p, Object value) {
    expect(p.isDone() && p.value() == value && p.trigger.isSignaled(), "pick not completed by the winner");
  }

  /** Three one-sided commits of the same pick: exactly one wins, and its value is the result. */
  @Test
  void exactlyOneOfThreeCommitsWins() {
    ModelCheck.check(200, () -> {
      Picks s = ModelCheck.share(new Picks());
      ModelCheck.runAll(
          () -> s.firstWon = s.a.fire(null, "first"),
          () -> s.secondWon = s.a.fire(null, "second"),
          () -> {
            if (s.a.claim()) {
              s.a.publish(null, "third");
              s.a.trigger.signal();
              s.thirdWon = true;
            }
          });
      expect((s.firstWon ? 1 : 0) + (s.secondWon ? 1 : 0) + (s.thirdWon ? 1 : 0) == 1,
          "not exactly one commit won");
      expectDoneWith(s.a, s.firstWon ? "first" : s.secondWon ? "second" : "third");
    });
  }

  /**
   * Two two-sided commits of the same two picks, given in opposite order, never deadlock:
   * exactly one completes both picks with its value.
   */
  @Test
  void oppositeClaimOrdersNeverDeadlockAndOneCommitWins() {
    ModelCheck.check(200, () -> {
      Picks s = ModelCheck.share(new Picks());
      ModelCheck.runAll(
          () -> s.firstWon = commitBoth(s.a, s.b, "first"),
          () -> s.secondWon = commitBoth(s.b, s.a, "second"));
      expect(s.firstWon ^ s.secondWon, "not exactly one two-sided commit won");
      Object winner = s.firstWon ? "first" : "second";
      expectDoneWith(s.a, winner);
      expectDoneWith(s.b, winner);
    });
  }

  /**
   * Two-sided commits of (a, b) and (b, c) racing a one-sided commit of a: the pair commits
   * never both win (they share b), a commit that loses leaves the pick it claimed unclaimed
   * (WAITING, not CLAIMED), and pick a is completed by exactly one of its two contenders.
   */
  @Test
  void aLosingTwoSidedCommitReleasesItsClaim() {
    ModelCheck.check(300, () -> {
      Picks s = ModelCheck.share(new Picks());
      ModelCheck.runAll(
          () -> s.firstWon = commitBoth(s.a, s.b, "ab"),
          () -> s.secondWon = commitBoth(s.b, s.c, "bc"),
          () -> s.thirdWon = s.a.fire(null, "a"));
      expect(!(s.firstWon && s.secondWon), "two commits completed the shared pick");
      expect(s.firstWon ^ s.thirdWon, "pick a not completed by exactly one contender");
      if (s.firstWon) {
        expectDoneWith(s.a, "ab");
        expectDoneWith(s.b, "ab");
        expect(s.c.state == Pick.WAITING, "the losing commit left pick c claimed");
      } else {
        expect(s.secondWon, "pick b completed by neither commit");
        expectDoneWith(s.b, "bc");
        expectDoneWith(s.c, "bc");
        expectDoneWith(s.a, "a");
      }
    });
  }
}
