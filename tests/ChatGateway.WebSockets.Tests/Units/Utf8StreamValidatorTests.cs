using System.Text;
using ChatGateway.WebSockets.Framing;

namespace ChatGateway.WebSockets.Tests.Units;

public sealed class Utf8StreamValidatorTests
{
    private static readonly byte[] Mixed = Encoding.UTF8.GetBytes("ascii é € 😀 κόσμε \uFFFF \U0010FFFF end");

    [Fact]
    public void Valid_text_passes_in_any_split_into_three_pieces()
    {
        for (int a = 0; a <= Mixed.Length; a++)
        {
            for (int b = a; b <= Mixed.Length; b++)
            {
                var validator = new Utf8StreamValidator();
                Assert.True(validator.Append(Mixed.AsSpan(0, a)), $"piece 1 at {a}");
                Assert.True(validator.Append(Mixed.AsSpan(a, b - a)), $"piece 2 at {a},{b}");
                Assert.True(validator.Append(Mixed.AsSpan(b)), $"piece 3 at {b}");
                Assert.True(validator.IsComplete);
            }
        }
    }

    [Fact]
    public void Valid_text_passes_byte_by_byte_and_is_incomplete_inside_a_code_point()
    {
        var validator = new Utf8StreamValidator();
        byte[] euro = [0xE2, 0x82, 0xAC];
        Assert.True(validator.Append(euro.AsSpan(0, 1)));
        Assert.False(validator.IsComplete);
        Assert.True(validator.Append(euro.AsSpan(1, 1)));
        Assert.False(validator.IsComplete);
        Assert.True(validator.Append(euro.AsSpan(2, 1)));
        Assert.True(validator.IsComplete);
    }

    [Theory]
    [InlineData("f4", "90")]       // above U+10FFFF: fails on the second byte
    [InlineData("ed", "a0")]       // a surrogate
    [InlineData("e0", "80")]       // overlong
    [InlineData("f0", "80")]       // overlong
    [InlineData("c3", "28")]       // continuation expected
    [InlineData("e282", "41")]     // continuation expected
    public void An_impossible_continuation_fails_on_the_piece_that_brings_it(string first, string second)
    {
        var validator = new Utf8StreamValidator();
        Assert.True(validator.Append(Convert.FromHexString(first)));
        Assert.False(validator.Append(Convert.FromHexString(second)));
    }

    [Theory]
    [InlineData("41f490")]         // fails inside one piece, before the sequence could complete
    [InlineData("41eda0")]
    [InlineData("41c0")]
    [InlineData("41ff")]
    [InlineData("4180")]
    public void An_impossible_prefix_at_the_end_of_a_piece_fails_at_once(string hex)
    {
        var validator = new Utf8StreamValidator();
        Assert.False(validator.Append(Convert.FromHexString(hex)));
    }

    [Fact]
    public void Long_ascii_with_one_bad_byte_anywhere_fails()
    {
        byte[] text = Encoding.ASCII.GetBytes(new string('a', 300));
        for (int i = 0; i < text.Length; i += 37)
        {
            byte[] bad = (byte[])text.Clone();
            bad[i] = 0xFF;
            var validator = new Utf8StreamValidator();
            Assert.False(validator.Append(bad));
        }
    }
}
