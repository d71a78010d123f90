package io.sqliteos.fs;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class ErrnoTest {

    @Test
    void namesTheNumbersItKnowsAndSaysWhichOneItDoesNot() {
        assertThat(Errno.nameOf(22)).isEqualTo("EINVAL");
        assertThat(Errno.nameOf(Errno.ENOSYS.number())).isEqualTo("ENOSYS");
        assertThat(Errno.nameOf(133)).isEqualTo("errno 133");
    }
}
