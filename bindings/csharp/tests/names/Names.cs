// Names.cs: every public type of XProc.dll named in a file that also imports System,
// System.Threading, System.Collections and System.Collections.Generic — what an ordinary C#
// program does. It is a compile test first: a type of ours whose simple name is also a
// type in one of those namespaces (Queue, Semaphore, Barrier, Lock before the XProc prefix)
// fails the build with CS0104 "ambiguous reference". Run, it also checks the list below is
// every exported type, so a type added later is named here (and compile-checked) too.
//
// run_tests.sh compiles it with -warnaserror against XProc.dll and runs it; exit 0 is a pass.

using System;
using System.Threading;
using System.Collections;
using System.Collections.Generic;
using XProc;

internal static class Names
{
    // Each entry is the type as a program writes it, so the compiler resolves every name.
    private static readonly Type[] Named =
    {
        typeof(XProcClient),
        typeof(XProcObject),
        typeof(XProcQueue),
        typeof(XProcQueue<>),
        typeof(XProcJoinableQueue),
        typeof(XProcJoinableQueue<>),
        typeof(Delivery<>),
        typeof(XProcDict),
        typeof(XProcDict<,>),
        typeof(IXProcSerializer<>),
        typeof(XProcDefaultSerializer<>),
        typeof(XProcPipe),
        typeof(PipeEnd),
        typeof(XProcLockBase),
        typeof(XProcLock),
        typeof(XProcRLock),
        typeof(XProcCondition),
        typeof(XProcSemaphore),
        typeof(XProcBoundedSemaphore),
        typeof(XProcEvent),
        typeof(XProcBarrier),
        typeof(Releaser),
        typeof(BrokerLimits),
        typeof(ObjectInfo),
        typeof(ObjectStat),
        typeof(ClientInfo),
        typeof(MessagePack),
        typeof(Nil),
        typeof(Extension),
        typeof(Timestamp),
        typeof(ValueComparer),
        typeof(XProcStatus),
        typeof(IXProcException),
        typeof(XProcException),
        typeof(XProcTimeoutException),
        typeof(XProcKeyNotFoundException),
        typeof(NoBrokerException),
        typeof(DisconnectedException),
        typeof(PipeClosedException),
        typeof(BrokenBarrierException),
        typeof(NotOwnerException),
        typeof(ObjectNotFoundException),
        typeof(ObjectMismatchException),
        typeof(UnknownDeliveryException),
        typeof(AccessDeniedException),
        typeof(LimitExceededException),
    };

    private static int Main()
    {
        // The System types the old names clashed with still resolve here, unqualified.
        Type[] theirs = { typeof(Queue), typeof(Queue<int>), typeof(Semaphore), typeof(Barrier), typeof(Timeout) };

        // The generic types, closed as a program writes them.
        Type[] closed =
        {
            typeof(XProcQueue<int>), typeof(XProcJoinableQueue<string>), typeof(Delivery<long>),
            typeof(XProcDict<string, List<int>>), typeof(IXProcSerializer<Queue<int>>),
            typeof(XProcDefaultSerializer<Dictionary<string, double>>),
        };

        var named = new HashSet<Type>(Named);
        var missing = new List<string>();
        foreach (Type t in typeof(XProcClient).Assembly.GetExportedTypes())
        {
            Type key = t.IsGenericType ? t.GetGenericTypeDefinition() : t;
            if (!named.Contains(key))
            {
                missing.Add(t.FullName);
            }
        }
        if (missing.Count > 0)
        {
            Console.Error.WriteLine("exported but not named in Names.cs: " + string.Join(", ", missing.ToArray()));
            return 1;
        }
        Console.WriteLine("names: all " + Named.Length + " public types compile beside System, System.Threading, "
            + "System.Collections and System.Collections.Generic (and " + theirs.Length + " of theirs, "
            + closed.Length + " closed generics)");
        return 0;
    }
}
