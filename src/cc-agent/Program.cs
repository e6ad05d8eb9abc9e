// Placeholder until issue 3 lands the agent; keeps the AOT publish path exercised from the first commit.
Console.Out.Write("cc-agent: not yet implemented\n");
return 1;
