package dev.tartan.agent.routing;

/** What a backend makes of one lease: its {@link PeerEntries}, or why it is left out. */
public sealed interface PeerSpec permits PeerEntries, DesiredState.Skipped {}
