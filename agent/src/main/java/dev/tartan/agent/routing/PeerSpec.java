package dev.tartan.agent.routing;

/**
 * What a backend makes of one lease: its {@link PeerEntries}, why it is left out, or that it has
 * nothing for this device ({@link DesiredState.Absent}: an IPv4-only lease on the IPv6 device).
 */
public sealed interface PeerSpec permits PeerEntries, DesiredState.Skipped, DesiredState.Absent {}
