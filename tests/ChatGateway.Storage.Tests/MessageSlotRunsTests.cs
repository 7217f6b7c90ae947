using ChatGateway.Storage.Journal;
using ChatGateway.Storage.State;

namespace ChatGateway.Storage.Tests;

/// <summary>
/// The writer gathers a batch's message slots into one run per conversation and writes each run with one
/// read-modify-write of its block. These tests drive the runs against a real index in a temporary folder and read
/// the blocks back as readers do.
/// </summary>
public sealed class MessageSlotRunsTests : IDisposable
{
    private readonly TempIndex _index = new();
    private readonly MessageSlotRuns _runs;

    public MessageSlotRunsTests() => _runs = new MessageSlotRuns(_index.Session);

    public void Dispose() => _index.Dispose();

    private static MessageSlot SlotOf(long conversation, long seq) => new() { Address = conversation * 1_000_000 + seq, Timestamp = seq * 10 };

    private MessageSlot Read(long conversation, long seq)
    {
        StateQueries.TryGetMessageSlot(_index.Session, conversation, seq, out MessageSlot slot);
        return slot;
    }

    [Fact]
    public void Interleaved_conversations_beyond_the_open_run_limit_get_every_slot_across_blocks_and_only_a_flush_writes_the_open_runs()
    {
        const int conversations = MessageSlotRuns.MaxRuns + 44;
        const int seqs = 150; // blocks 0, 1 and 2
        for (long seq = 1; seq <= seqs; seq++)
        {
            for (long conversation = 1; conversation <= conversations; conversation++)
            {
                _runs.Add(conversation, seq, SlotOf(conversation, seq));
            }
        }

        // The first MaxRuns conversations hold a run each: their blocks before the last are written (the run moved
        // on), their last block's seqs are not yet. The others found no run free and were written at once.
        Assert.Equal(MessageSlotRuns.MaxRuns, _runs.Open);
        Assert.Equal(SlotOf(1, 127), Read(1, 127));
        Assert.Equal(default, Read(1, 128));
        Assert.Equal(default, Read(MessageSlotRuns.MaxRuns, seqs));
        Assert.Equal(SlotOf(MessageSlotRuns.MaxRuns + 1, seqs), Read(MessageSlotRuns.MaxRuns + 1, seqs));

        _runs.Flush();

        Assert.Equal(0, _runs.Open);
        for (long conversation = 1; conversation <= conversations; conversation++)
        {
            for (long seq = 1; seq <= seqs; seq++)
            {
                Assert.Equal(SlotOf(conversation, seq), Read(conversation, seq));
            }
            Assert.Equal(default, Read(conversation, seqs + 1));
        }
    }

    [Fact]
    public void A_run_that_outgrows_its_block_record_grows_it_and_keeps_the_slots_written_before()
    {
        // Seqs 1..3 make a block of 4 slots; the run 4..40 must grow it to 64 and leave 1..3 as they were.
        for (long seq = 1; seq <= 3; seq++)
        {
            _runs.Add(7, seq, SlotOf(7, seq));
        }
        _runs.Flush();
        Span<MessageSlot> slots = stackalloc MessageSlot[MessageBlock.Seqs];
        Assert.Equal(4, StateQueries.ReadMessageBlock(_index.Session, 7, 1, slots));

        for (long seq = 4; seq <= 40; seq++)
        {
            _runs.Add(7, seq, SlotOf(7, seq));
        }
        _runs.Flush();

        Assert.Equal(64, StateQueries.ReadMessageBlock(_index.Session, 7, 1, slots));
        for (long seq = 1; seq <= 40; seq++)
        {
            Assert.Equal(SlotOf(7, seq), slots[(int)seq]);
        }
        Assert.Equal(default, slots[41]);
    }

    [Fact]
    public void Seqs_that_do_not_continue_the_run_start_a_new_one_and_both_are_written()
    {
        _runs.Add(3, 5, SlotOf(3, 5));
        _runs.Add(3, 6, SlotOf(3, 6));
        _runs.Add(3, 20, SlotOf(3, 20)); // a gap in the same block
        _runs.Add(3, 2, SlotOf(3, 2)); // backwards
        _runs.Flush();

        foreach (long seq in new long[] { 2, 5, 6, 20 })
        {
            Assert.Equal(SlotOf(3, seq), Read(3, seq));
        }
        foreach (long seq in new long[] { 1, 3, 4, 7, 19, 21 })
        {
            Assert.Equal(default, Read(3, seq));
        }
    }

    [Fact]
    public void Blocks_that_count_retention_deletes_while_their_runs_are_open_stay_deleted()
    {
        // Keep 70, applied as the writer does in one batch: seq 133 deletes block 0 and seq 191 block 1, both written
        // as runs earlier in the same batch. Written after their deletion, they would come back and stay forever.
        using var machine = new StateMachine(_index.Session, _index.Store.NewPrefetchSession(), maxBodyBytes: 100, messageBlocks: true);
        for (long seq = 1; seq <= 200; seq++)
        {
            machine.Apply(new JournalRecord
            {
                Kind = RecordKind.MessageAppended, Conversation = 9, Seq = seq, User = 1, Timestamp = seq * 10,
                Aux = seq > 70 ? seq - 70 : 0,
            }, address: SlotOf(9, seq).Address);
        }
        machine.FlushConversations();

        Span<MessageSlot> slots = stackalloc MessageSlot[MessageBlock.Seqs];
        Assert.Equal(0, StateQueries.ReadMessageBlock(_index.Session, 9, 1, slots));
        Assert.Equal(0, StateQueries.ReadMessageBlock(_index.Session, 9, 64, slots));
        for (long seq = 128; seq <= 200; seq++)
        {
            Assert.Equal(SlotOf(9, seq), Read(9, seq));
        }
        Assert.Equal(131, machine.GetConversation(9).EarliestSeq);
    }
}
